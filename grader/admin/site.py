"""The admin site: a home page for teachers, and the operators' models out of their way."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.template.response import TemplateResponse

from grader.admin.courses import CourseAdmin, QuestionAdmin
from grader.admin.login import ThrottledAdminLoginForm
from grader.admin.operators import (
    OPERATE_MODELS,
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
from grader.workspace.selectors import teacher_home

# What a teacher works with; everything else registered (users, groups, integrations, webhooks, periodic tasks,
# model versions, training runs) is an operator's.
TEACHING_MODELS = {"grader.course", "grader.question", "grader.submission"}


def is_operator(user) -> bool:
    """Superusers and whoever may change the grading model; course teachers are neither."""
    return user.is_superuser or user.has_perm(OPERATE_MODELS)


class GraderAdminSite(AdminSite):
    site_header = "grader"
    site_title = "grader"
    index_title = "Your courses"
    index_template = "admin/grader/index.html"
    # Password guessing at the admin's login page costs a slow hash per try: it shares the API's failure budget.
    login_form = ThrottledAdminLoginForm
    # The page's width goes to the answers: on a laptop the sidebar pushed the teacher's points off the screen.
    # The home page and the breadcrumbs lead everywhere the sidebar did.
    enable_nav_sidebar = False

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """Teaching first, then the operators' models in their own sections, shown to operators only.

        Teachers keep read access to model versions and runs by their URLs; the home page just does not list them.
        """
        teaching, operations = [], []
        for app in super().get_app_list(request, app_label):
            models = [model for model in app["models"] if _label(model) in TEACHING_MODELS]
            others = [model for model in app["models"] if _label(model) not in TEACHING_MODELS]
            if models:
                teaching.append({**app, "name": "Teaching", "models": models})
            if others:
                operations.append({**app, "name": f"Operations: {app['name']}", "models": others})
        return teaching + (operations if is_operator(request.user) else [])

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        extra_context = {**(extra_context or {}), "teacher_home": teacher_home(user=request.user)}
        return super().index(request, extra_context)


def _label(model: dict) -> str:
    return model["model"]._meta.label_lower


def register(site: AdminSite) -> None:
    """grader's models on ``site``: every registration is here."""
    site.register(Course, CourseAdmin)
    site.register(Question, QuestionAdmin)
    site.register(Submission, SubmissionAdmin)
    site.register(ModelVersion, ModelVersionAdmin)
    site.register(TrainingRun, TrainingRunAdmin)
    site.register(Integration, IntegrationAdmin)
    site.register(WebhookEndpoint, WebhookEndpointAdmin)
    site.register(WebhookDelivery, WebhookDeliveryAdmin)
