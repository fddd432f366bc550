"""Reads for the teacher's workspace, each scoped to the user asking."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import BooleanField, Count, ExpressionWrapper, F, Q, QuerySet

from grader.models import Course, Integration, Question, Submission


def courses_for_user(*, user: AbstractBaseUser) -> QuerySet[Course]:
    """The courses a user teaches; a superuser sees every course."""
    if user.is_superuser:
        return Course.objects.all()
    return Course.objects.filter(teachers=user)


def scope_to_user(*, queryset: QuerySet, user: AbstractBaseUser, course_path: str) -> QuerySet:
    """``queryset`` limited to rows whose course (reached by ``course_path``, e.g. ``question__course``) the user
    teaches. A subquery rather than a join, so no ``distinct()`` is needed and annotations stay exact."""
    if user.is_superuser:
        return queryset
    lookup = f"{course_path}__in" if course_path else "pk__in"
    return queryset.filter(**{lookup: courses_for_user(user=user).values("pk")})


def questions_for_user(*, user: AbstractBaseUser) -> QuerySet[Question]:
    return scope_to_user(queryset=Question.objects.select_related("course"), user=user, course_path="course")


def submissions_for_user(*, user: AbstractBaseUser) -> QuerySet[Submission]:
    return scope_to_user(
        queryset=Submission.objects.select_related("question", "question__course", "model_version"),
        user=user,
        course_path="question__course",
    )


def integrations_for_user(*, user: AbstractBaseUser) -> QuerySet[Integration]:
    """An integration is visible to a teacher if it serves one of their courses."""
    if user.is_superuser:
        return Integration.objects.all()
    return Integration.objects.filter(pk__in=Integration.objects.filter(courses__teachers=user).values("pk"))


def review_queue_ordering() -> list:
    """The review queue's order, for querysets annotated by ``submissions_review_queue``.

    Grades awaiting review first, then the others by lowest confidence (the probability that a teacher agrees on
    pass or fail), so the grades most likely wrong come first; within each, lowest confidence first. Ungraded
    submissions, and ones graded before confidences were recorded, have none and come last.
    """
    return [F("awaiting_review").desc(), F("confidence").asc(nulls_last=True), "pk"]


def submissions_review_queue(*, queryset: QuerySet[Submission]) -> QuerySet[Submission]:
    """``queryset`` in review-queue order, annotated with ``awaiting_review`` (status needs_review)."""
    awaiting = ExpressionWrapper(Q(status=Submission.Status.NEEDS_REVIEW), output_field=BooleanField())
    return queryset.annotate(awaiting_review=awaiting).order_by(*review_queue_ordering())


@dataclass(frozen=True)
class QueueRow:
    question: Question
    graded: int
    awaiting_review: int  # needs_review: the grade is held back from the LMS until a teacher settles it
    to_review: int  # graded and not corrected yet, including those awaiting review
    corrected: int


def review_queue_overview(*, user: AbstractBaseUser) -> list[QueueRow]:
    """Per question of the user's courses: how many graded answers, awaiting review, uncorrected, corrected."""
    questions = questions_for_user(user=user).annotate(
        graded=Count("submissions", filter=Q(submissions__points__isnull=False)),
        awaiting_review=Count("submissions", filter=Q(submissions__status=Submission.Status.NEEDS_REVIEW)),
        to_review=Count(
            "submissions", filter=Q(submissions__points__isnull=False, submissions__corrected_points__isnull=True)
        ),
        corrected=Count("submissions", filter=Q(submissions__corrected_points__isnull=False)),
    )
    return [
        QueueRow(
            question=question,
            graded=question.graded,
            awaiting_review=question.awaiting_review,
            to_review=question.to_review,
            corrected=question.corrected,
        )
        for question in questions.order_by("course__code", "key")
    ]
