"""Reads. Every queryset an API caller sees is scoped to what that caller may see."""

from __future__ import annotations

from django.db.models import QuerySet

from grader.models import Course, Integration, ModelVersion, Question, Submission, WebhookEndpoint, WorkerHeartbeat


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()


def courses_for_integration(*, integration: Integration, include_archived: bool = False) -> QuerySet[Course]:
    courses = Course.objects.filter(integrations=integration)
    return courses if include_archived else courses.filter(archived_at__isnull=True)


def questions_for_integration(*, integration: Integration, include_archived: bool = False) -> QuerySet[Question]:
    """``include_archived=False``: neither the question nor its course is archived (both take new submissions)."""
    questions = Question.objects.filter(course__integrations=integration).select_related("course")
    if include_archived:
        return questions
    return questions.filter(archived_at__isnull=True, course__archived_at__isnull=True)


def submissions_for_integration(*, integration: Integration) -> QuerySet[Submission]:
    return Submission.objects.filter(question__course__integrations=integration).select_related(
        "question", "question__course", "model_version"
    )


def submissions_for_teacher(*, user) -> QuerySet[Submission]:
    submissions = Submission.objects.select_related("question", "question__course", "model_version")
    if user.is_superuser:
        return submissions
    return submissions.filter(question__course__teachers=user).distinct()


def model_versions_visible() -> QuerySet[ModelVersion]:
    """Versions that graded or may grade; rejected candidates are an operator's business."""
    return ModelVersion.objects.exclude(status=ModelVersion.Status.REJECTED).select_related("parent")


def webhook_endpoints_for_integration(*, integration: Integration) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(integration=integration, is_active=True)


def worker_heartbeat_latest(*, queue: str = "grading") -> WorkerHeartbeat | None:
    """The most recent heartbeat of a worker consuming ``queue`` (readiness: is anyone there to grade?)."""
    candidates = WorkerHeartbeat.objects.filter(queues__regex=rf"(^|,){queue}(,|$)")
    return candidates.order_by("-last_seen_at").first()


def webhook_endpoints_active_exist() -> bool:
    """Whether any integration listens at all: grading skips building webhook events when none does."""
    return WebhookEndpoint.objects.filter(is_active=True, integration__revoked_at__isnull=True).exists()
