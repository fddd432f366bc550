"""Grade passback (LTI Assignment and Grade Services): an outbox of scores, posted by a task, retried with backoff.

A score row is written in the same transaction as the grade change (grading, a correction, a regrade), so it
exists if and only if the change committed; a task enqueued on commit posts it. Held for review, the score says
``PendingManual`` without points; released (auto grade or teacher), ``FullyGraded`` with the grade that counts.
A newer score of the same submission supersedes one not yet sent, so a platform never receives an older grade
after a newer one; a score is posted until the platform accepts it (claimed by a conditional UPDATE, so two
deliveries of the task never post it twice at once).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.contrib.django import DjangoServiceConnector
from pylti1p3.exception import LtiServiceException
from pylti1p3.grade import Grade

from grader.dispatch import enqueue_lti_score
from grader.lti.models import LtiLaunch, ScorePassback
from grader.lti.tool import PlatformRegistration
from grader.models import Submission
from grader.services.webhooks import backoff_seconds

logger = logging.getLogger(__name__)

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def _score_for(*, submission: Submission, sub: str) -> dict | None:
    """The AGS score for a submission's current state, or None while it has no grade to report yet."""
    timestamp = timezone.now().isoformat()
    if submission.status == Submission.Status.NEEDS_REVIEW and submission.corrected_points is None:
        # The auto grade is not released: the gradebook shows the attempt as waiting for the teacher.
        return {
            "userId": sub,
            "activityProgress": "Completed",
            "gradingProgress": "PendingManual",
            "timestamp": timestamp,
        }
    final = submission.final_points
    if final is None:
        return None
    return {
        "userId": sub,
        "scoreGiven": float(final),
        "scoreMaximum": float(submission.question.max_points),
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": timestamp,
    }


def lti_scores_record(*, submission_ids: Iterable[int]) -> int:
    """Record the score of each submission that came from an LTI launch whose link has a line item.

    Call inside the transaction that changed the grades. One query when none of them came from LTI.
    """
    launches = list(
        LtiLaunch.objects.filter(submission_id__in=list(submission_ids))
        .exclude(claims__ags__lineitem__isnull=True)
        .select_related("submission__question")
    )
    recorded: list[int] = []
    for launch in launches:
        if SCORE_SCOPE not in (launch.claims.get("ags") or {}).get("scope", []):
            continue
        submission = launch.submission
        if submission is None:  # excluded by the query: every launch here has one of the submissions
            continue
        score = _score_for(submission=submission, sub=launch.sub)
        if score is None:
            continue
        # A score being sent right now is left to finish; if it fails, it is superseded then (lti_score_post).
        ScorePassback.objects.filter(launch=launch, status=ScorePassback.Status.PENDING).update(
            status=ScorePassback.Status.SUPERSEDED
        )
        passback = ScorePassback.objects.create(
            launch=launch, submission=submission, score=score, next_attempt_at=timezone.now()
        )
        recorded.append(passback.pk)
    if recorded:
        transaction.on_commit(lambda: [enqueue_lti_score(passback_id) for passback_id in recorded])
    return len(recorded)


@dataclass(frozen=True)
class PostOutcome:
    sent: bool
    succeeded: bool = False
    retry_in: float | None = None


def lti_score_post(*, passback_id: int) -> PostOutcome:
    """Post one pending score to its line item once. The access token comes from the platform's OAuth2 endpoint
    and is cached (the default cache) until shortly before it expires."""
    now = timezone.now()
    claimed = (
        ScorePassback.objects.filter(pk=passback_id, status=ScorePassback.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=ScorePassback.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now)
    )
    if not claimed:
        return PostOutcome(sent=False)
    passback = ScorePassback.objects.select_related("launch__context__platform").get(pk=passback_id)
    ags_claim = passback.launch.claims["ags"]
    status_code: int | None = None
    error = ""
    try:
        registration = PlatformRegistration(passback.launch.context.platform)
        service = AssignmentsGradesService(DjangoServiceConnector(registration), ags_claim)
        service.put_grade(_grade(passback.score))
    except LtiServiceException as failure:
        status_code = failure.response.status_code
        error = str(failure)[:500]
    except Exception as failure:  # noqa: BLE001 - any failure of the attempt is recorded, and retried
        error = repr(failure)[:500]
    fields = {"last_status_code": status_code, "last_error": error}
    if not error:
        ScorePassback.objects.filter(pk=passback_id).update(
            status=ScorePassback.Status.SUCCEEDED, sent_at=timezone.now(), next_attempt_at=None, **fields
        )
        return PostOutcome(sent=True, succeeded=True)
    if ScorePassback.objects.filter(launch_id=passback.launch_id, pk__gt=passback.pk).exists():
        # A newer score is on its way: retrying this one could land an older grade after it.
        ScorePassback.objects.filter(pk=passback_id).update(
            status=ScorePassback.Status.SUPERSEDED, next_attempt_at=None, **fields
        )
        return PostOutcome(sent=True)
    if passback.attempts >= settings.GRADER_LTI_SCORE_MAX_ATTEMPTS:
        ScorePassback.objects.filter(pk=passback_id).update(
            status=ScorePassback.Status.FAILED, next_attempt_at=None, **fields
        )
        logger.warning("LTI score %s failed after %s attempts: %s", passback_id, passback.attempts, error)
        return PostOutcome(sent=True)
    retry_in = backoff_seconds(passback.attempts)
    ScorePassback.objects.filter(pk=passback_id).update(
        status=ScorePassback.Status.PENDING, next_attempt_at=now + timedelta(seconds=retry_in), **fields
    )
    return PostOutcome(sent=True, retry_in=retry_in)


def _grade(score: dict) -> Grade:
    grade = (
        Grade()
        .set_user_id(score["userId"])
        .set_activity_progress(score["activityProgress"])
        .set_grading_progress(score["gradingProgress"])
        .set_timestamp(score["timestamp"])
    )
    if "scoreGiven" in score:
        grade.set_score_given(score["scoreGiven"]).set_score_maximum(score["scoreMaximum"])
    return grade


def lti_scores_requeue_due(*, sending_for: timedelta = timedelta(minutes=5)) -> int:
    """Enqueue scores whose retry is due but whose message was lost, and those a dead worker left sending."""
    now = timezone.now() - timedelta(minutes=1)
    ScorePassback.objects.filter(status=ScorePassback.Status.SENDING, next_attempt_at__lt=now - sending_for).update(
        status=ScorePassback.Status.PENDING
    )
    due = list(
        ScorePassback.objects.filter(status=ScorePassback.Status.PENDING, next_attempt_at__lt=now).values_list(
            "pk", flat=True
        )[:1000]
    )
    for passback_id in due:
        enqueue_lti_score(passback_id)
    return len(due)
