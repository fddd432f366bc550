"""A teacher's decisions on many submissions at once; each one is an ordinary correction."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction

from grader.models import Correction, Submission
from grader.services.submissions import correction_create

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
def submissions_confirm_auto_grades(*, submissions: Iterable[Submission], teacher: User) -> int:
    """The teacher agrees with the auto grade: a correction with the same points, so it counts as a training label
    and, like any correction, releases a grade that was awaiting review.

    Ungraded submissions and ones a teacher already corrected are left alone (confirming must never overwrite a
    teacher's grade with the machine's). Returns how many were confirmed.
    """
    # Locked and re-read here, so a correction saved meanwhile by a colleague is not overwritten.
    pending = (
        Submission.objects.select_for_update()
        .filter(pk__in=[submission.pk for submission in submissions])
        .filter(points__isnull=False, corrected_points__isnull=True)
        .order_by("pk")
    )
    confirmed = 0
    for submission in pending:
        if submission.points is None:  # excluded by the query; a row without points has nothing to confirm
            continue
        correction_create(
            submission=submission, teacher=teacher, points=submission.points, comment=CONFIRMATION_COMMENT
        )
        confirmed += 1
    return confirmed
