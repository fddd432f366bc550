"""Accepting, grading and correcting student submissions."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from grader.models import Correction, Integration, Question, Submission
from grader.scoring.grading import score_answers
from grader.services.model_versions import encoder_for_active_version

logger = logging.getLogger(__name__)

# A claim older than this is taken to belong to a dead worker; longer than the grading task's hard time limit.
GRADING_LEASE = timedelta(minutes=5)


def _enqueue_grading(submission_id: int) -> None:
    """Hand a submission to the workers. If the broker is down the row stays queued and the sweeper retries."""
    from grader.tasks import grade_submission

    try:
        grade_submission.delay(submission_id)
    except Exception:
        logger.warning("could not enqueue submission %s; the sweeper will retry", submission_id, exc_info=True)


def submission_create(
    *,
    question: Question,
    student_ref: str,
    answer: str,
    external_id: str | None = None,
    integration: Integration | None = None,
) -> tuple[Submission, bool]:
    """Store a student's answer as ``queued`` and enqueue its grading once the row is committed.

    Returns ``(submission, created)``. The same ``(question, external_id)`` posted again returns the first
    submission unchanged, including under concurrent retries (the database's unique constraint decides).
    """
    if not answer.strip():
        raise ValidationError({"answer": "The answer is empty."})
    if len(answer) > settings.GRADER_ANSWER_MAX_CHARS:
        raise ValidationError({"answer": f"The answer is longer than {settings.GRADER_ANSWER_MAX_CHARS} characters."})
    if external_id:
        existing = Submission.objects.filter(question=question, external_id=external_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            submission = Submission.objects.create(
                question=question,
                integration=integration,
                student_ref=student_ref,
                external_id=external_id or None,
                answer=answer,
            )
            transaction.on_commit(lambda: _enqueue_grading(submission.pk))
    except IntegrityError:
        if not external_id:
            raise
        return Submission.objects.get(question=question, external_id=external_id), False
    return submission, True


def submission_grade(*, submission_id: int) -> bool:
    """Grade one submission with the active model version. Idempotent.

    Returns True if this call recorded the grade. A submission already graded (a duplicate delivery) is left
    alone, and of two concurrent deliveries only one write lands: the final UPDATE is conditional on the status.
    """
    claimed = Submission.objects.filter(
        pk=submission_id, status__in=[Submission.Status.QUEUED, Submission.Status.GRADING]
    ).update(
        status=Submission.Status.GRADING, grading_started_at=timezone.now(), grading_attempts=F("grading_attempts") + 1
    )
    if not claimed:
        return False
    submission = Submission.objects.select_related("question").get(pk=submission_id)
    version, encoder = encoder_for_active_version()
    [score] = score_answers(
        encoder=encoder, model_version=version, question=submission.question, answers=[submission.answer]
    )
    recorded = Submission.objects.filter(pk=submission_id, status=Submission.Status.GRADING).update(
        # A grade the scoring step is not sure of, or an answer that looks built to fool it, waits for a teacher.
        status=Submission.Status.NEEDS_REVIEW if score.needs_review else Submission.Status.GRADED,
        confidence=score.confidence,
        review_reasons=",".join(score.review_reasons)[:200],
        similarity=score.similarity,
        points=score.points,
        best_reference=score.best_reference,
        model_version=version,
        graded_at=timezone.now(),
        error="",
    )
    return recorded == 1


def submission_mark_failed(*, submission_id: int, error: str) -> None:
    """Called once retries are exhausted, so a teacher sees the failure instead of a submission stuck forever."""
    Submission.objects.filter(
        pk=submission_id, status__in=[Submission.Status.QUEUED, Submission.Status.GRADING]
    ).update(status=Submission.Status.FAILED, error=error[:2000])


def submissions_requeue_stale(*, queued_for: timedelta = timedelta(minutes=2)) -> int:
    """Enqueue again what a lost message or a dead worker left behind. Safe to run any time: grading is idempotent."""
    now = timezone.now()
    stale_ids = list(
        Submission.objects.filter(
            Q(status=Submission.Status.QUEUED, updated_at__lt=now - queued_for)
            | Q(status=Submission.Status.GRADING, grading_started_at__lt=now - GRADING_LEASE)
        ).values_list("pk", flat=True)[:1000]
    )
    for submission_id in stale_ids:
        _enqueue_grading(submission_id)
    if stale_ids:
        # Touch the rows so the next sweep waits a full period before enqueueing them again.
        Submission.objects.filter(pk__in=stale_ids, status=Submission.Status.QUEUED).update(updated_at=now)
    return len(stale_ids)


@transaction.atomic
def correction_create(
    *, submission: Submission, teacher: AbstractBaseUser, points: Decimal, comment: str = ""
) -> Correction:
    """A teacher's grade. The auto grade stays beside it; the latest correction is the submission's grade."""
    submission = Submission.objects.select_for_update().select_related("question").get(pk=submission.pk)
    points = Decimal(points)
    if not Decimal("0") <= points <= submission.question.max_points:
        raise ValidationError({"points": f"Points must lie between 0 and {submission.question.max_points}."})
    correction = Correction.objects.create(
        submission=submission, teacher=teacher, points=points, comment=comment, auto_points=submission.points
    )
    Submission.objects.filter(pk=submission.pk).update(corrected_points=points, updated_at=timezone.now())
    return correction
