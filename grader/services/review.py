"""A teacher's decisions on many submissions at once; each one is an ordinary correction."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from grader.models import Correction, Submission
from grader.services.submissions import correction_create
from grader.services.webhooks import webhook_event_submission

CONFIRMATION_COMMENT = "Auto grade confirmed."


@transaction.atomic
def submissions_grade_group(
    *, submissions: Iterable[Submission], teacher: User, points: Decimal, comment: str = ""
) -> list[Correction]:
    """The same grade for every submission given; all or nothing (points out of range for one refuse all)."""
    return [
        correction_create(submission=submission, teacher=teacher, points=points, comment=comment)
        for submission in submissions
    ]


@transaction.atomic
def submissions_confirm_auto_grades(*, submissions: Iterable[Submission], teacher: User) -> list[Correction]:
    """The teacher agrees with the auto grade: a correction with the same points, so it counts as a training label
    and, like any correction, releases a grade that was awaiting review.

    Ungraded submissions and ones a teacher already corrected are left alone (confirming must never overwrite a
    teacher's grade with the machine's). Returns the confirmations recorded.
    """
    # Locked and re-read here, so a correction saved meanwhile by a colleague is not overwritten.
    pending = (
        Submission.objects.select_for_update()
        .filter(pk__in=[submission.pk for submission in submissions])
        .filter(points__isnull=False, corrected_points__isnull=True)
        .order_by("pk")
    )
    return [
        correction_create(
            submission=submission, teacher=teacher, points=submission.points, comment=CONFIRMATION_COMMENT
        )
        for submission in pending
        if submission.points is not None  # excluded by the query; a row without points has nothing to confirm
    ]


@transaction.atomic
def corrections_undo(*, corrections: Iterable[int], teacher: User, held_back_submission_ids: Iterable[int] = ()) -> int:
    """Take back a teacher's own corrections (by id), each only while it is still its submission's latest.

    The grade returns to the one before: an earlier correction, else the auto grade; an answer that was awaiting
    review before (``held_back_submission_ids``) waits again. A correction someone made since stands. Returns how
    many were undone.
    """
    held_back = set(held_back_submission_ids)
    undone = 0
    own = Correction.objects.filter(pk__in=list(corrections), teacher=teacher).order_by("pk")
    for correction in own.select_for_update():
        submission = Submission.objects.select_for_update().get(pk=correction.submission_id)
        history = Correction.objects.filter(submission=submission).order_by("-created_at", "-pk")
        latest = history.first()
        if latest is None or latest.pk != correction.pk:
            continue
        correction.delete()
        previous = history.first()
        changes: dict = {
            "corrected_points": None if previous is None else previous.points,
            "updated_at": timezone.now(),
        }
        if previous is None and submission.pk in held_back:
            changes["status"] = Submission.Status.NEEDS_REVIEW
        Submission.objects.filter(pk=submission.pk).update(**changes)
        webhook_event_submission(submission_id=submission.pk, event="submission.grade_changed", reason="correction")
        undone += 1
    return undone
