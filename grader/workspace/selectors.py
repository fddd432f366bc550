"""Reads for the teacher's workspace, each scoped to the user asking."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, FloatField, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest

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


def review_confidence_expression():
    """How sure the auto grade is, higher is surer; NULL for an ungraded submission.

    For now: how far the similarity lies outside the band between the question's zero-credit and full-credit
    thresholds. Inside the band (a partial grade) it is negative, lowest in the middle of the band. Swap this
    for a confidence from the grading service when there is one: the review queue only orders by it.
    """
    zero = Coalesce(F("question__zero_credit_similarity"), Value(settings.GRADER_ZERO_CREDIT_SIMILARITY))
    full = Coalesce(F("question__full_credit_similarity"), Value(settings.GRADER_FULL_CREDIT_SIMILARITY))
    return Greatest(zero - F("similarity"), F("similarity") - full, output_field=FloatField())


def submissions_review_queue(*, queryset: QuerySet[Submission]) -> QuerySet[Submission]:
    """Least sure first: annotates ``review_confidence`` and orders by it (ungraded ones last)."""
    return queryset.annotate(review_confidence=review_confidence_expression()).order_by(
        F("review_confidence").asc(nulls_last=True), "pk"
    )


@dataclass(frozen=True)
class QueueRow:
    question: Question
    graded: int
    to_review: int
    corrected: int


def review_queue_overview(*, user: AbstractBaseUser) -> list[QueueRow]:
    """Per question of the user's courses: how many graded answers, how many still unreviewed."""
    questions = questions_for_user(user=user).annotate(
        graded=Count("submissions", filter=Q(submissions__points__isnull=False)),
        to_review=Count(
            "submissions", filter=Q(submissions__points__isnull=False, submissions__corrected_points__isnull=True)
        ),
        corrected=Count("submissions", filter=Q(submissions__corrected_points__isnull=False)),
    )
    return [
        QueueRow(question=question, graded=question.graded, to_review=question.to_review, corrected=question.corrected)
        for question in questions.order_by("course__code", "key")
    ]
