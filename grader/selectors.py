"""Reads. Every queryset an API caller sees is scoped to what that caller may see."""

from __future__ import annotations

from django.db.models import QuerySet

from grader.models import Course, Integration, ModelVersion, Question, Submission, WorkerHeartbeat


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()


def courses_for_integration(*, integration: Integration) -> QuerySet[Course]:
    return Course.objects.filter(integrations=integration)


def questions_for_integration(*, integration: Integration) -> QuerySet[Question]:
    return Question.objects.filter(course__integrations=integration, archived_at__isnull=True).select_related("course")


def submissions_for_integration(*, integration: Integration) -> QuerySet[Submission]:
    return Submission.objects.filter(question__course__integrations=integration).select_related(
        "question", "question__course", "model_version"
    )


def worker_heartbeat_latest(*, queue: str = "grading") -> WorkerHeartbeat | None:
    """The most recent heartbeat of a worker consuming ``queue`` (readiness: is anyone there to grade?)."""
    candidates = WorkerHeartbeat.objects.filter(queues__regex=rf"(^|,){queue}(,|$)")
    return candidates.order_by("-last_seen_at").first()
