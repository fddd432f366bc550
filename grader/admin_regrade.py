"""Admin actions that regrade, with the active model version, every graded submission no teacher corrected."""

from __future__ import annotations

from django.contrib import admin, messages

from grader.models import Question
from grader.services.regrading import regrade_enqueue


def _regrade(modeladmin, request, question_ids: list[int]) -> None:
    regrade_enqueue(question_ids=question_ids)
    modeladmin.message_user(
        request,
        f"Regrading {len(question_ids)} question(s) with the active version; teacher-corrected grades are kept.",
        level=messages.SUCCESS,
    )


@admin.action(description="Regrade uncorrected submissions with the active model version")
def regrade_questions(modeladmin, request, queryset) -> None:
    # The queryset is the admin's, already limited to the teacher's courses.
    _regrade(modeladmin, request, list(queryset.values_list("pk", flat=True)))


@admin.action(description="Regrade uncorrected submissions of these courses with the active model version")
def regrade_courses(modeladmin, request, queryset) -> None:
    _regrade(modeladmin, request, list(Question.objects.filter(course__in=queryset).values_list("pk", flat=True)))
