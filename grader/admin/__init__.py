"""grader's admin: the teacher's workspace and the operators' pages.

- ``scoping``: every list, form and action a teacher uses is limited to the courses they teach;
- ``courses``: courses and questions, CSV import of questions, regrade actions;
- ``submissions``: the review queue, corrections, groups, agreement, CSV export;
- ``operators``: model versions, training runs, integrations and webhooks;
- ``guard`` and ``login``: the admin's request guard and throttled login form.

Every model is registered here, in one place; the modules only define admin classes.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import AdminSite

from grader.admin.courses import CourseAdmin, QuestionAdmin
from grader.admin.login import ThrottledAdminLoginForm
from grader.admin.operators import (
    IntegrationAdmin,
    ModelVersionAdmin,
    TrainingRunAdmin,
    WebhookDeliveryAdmin,
    WebhookEndpointAdmin,
)
from grader.admin.submissions import SubmissionAdmin
from grader.models import (
    Course,
    Integration,
    ModelVersion,
    Question,
    Submission,
    TrainingRun,
    WebhookDelivery,
    WebhookEndpoint,
)


def register(site: AdminSite) -> None:
    """grader's models and login form on ``site``."""
    # Password guessing at the admin's login page costs a slow hash per try: it shares the API's failure budget.
    site.login_form = ThrottledAdminLoginForm
    site.register(Course, CourseAdmin)
    site.register(Question, QuestionAdmin)
    site.register(Submission, SubmissionAdmin)
    site.register(ModelVersion, ModelVersionAdmin)
    site.register(TrainingRun, TrainingRunAdmin)
    site.register(Integration, IntegrationAdmin)
    site.register(WebhookEndpoint, WebhookEndpointAdmin)
    site.register(WebhookDelivery, WebhookDeliveryAdmin)


register(admin.site)
