"""Reads for the teacher's workspace, each scoped to the user asking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Avg, BooleanField, Count, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Abs
from django.utils import timezone

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
    graded: int  # released grades (status graded); answers awaiting review are counted apart
    awaiting_review: int  # needs_review: the grade is held back from the LMS until a teacher settles it
    to_review: int  # graded and not corrected yet, including those awaiting review
    corrected: int


def _graded_released() -> Q:
    return Q(submissions__status=Submission.Status.GRADED)


def review_queue_overview(*, user: AbstractBaseUser) -> list[QueueRow]:
    """Per question of the user's courses that has answers: released grades, awaiting review, uncorrected,
    corrected."""
    questions = (
        questions_for_user(user=user)
        .annotate(
            answers=Count("submissions"),
            graded=Count("submissions", filter=_graded_released()),
            awaiting_review=Count("submissions", filter=Q(submissions__status=Submission.Status.NEEDS_REVIEW)),
            to_review=Count(
                "submissions",
                filter=Q(submissions__points__isnull=False, submissions__corrected_points__isnull=True),
            ),
            corrected=Count("submissions", filter=Q(submissions__corrected_points__isnull=False)),
        )
        .filter(answers__gt=0)
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


def review_queue(*, user: AbstractBaseUser, question: Question | None = None) -> QuerySet[Submission]:
    """What waits for the teacher, in review-queue order: graded answers no teacher has graded yet (those awaiting
    review first), of one question or of all the user's courses."""
    queryset = submissions_for_user(user=user).filter(points__isnull=False, corrected_points__isnull=True)
    if question is not None:
        queryset = queryset.filter(question=question)
    return submissions_review_queue(queryset=queryset)


# "New" on the home page: grades the model gave since this time yesterday.
NEW_GRADES_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class QuestionHome:
    question: Question
    answers: int
    awaiting_review: int  # held back from the LMS until the teacher settles them
    to_review: int  # graded, no teacher's grade yet (awaiting review included)
    new_grades: int  # graded within NEW_GRADES_WINDOW
    corrected: int
    mean_error: float | None  # mean |auto - teacher| in points over the answers a teacher graded
    exact_share: float | None  # share of those where the teacher kept the auto grade
    next_to_review_id: int | None


@dataclass(frozen=True)
class CourseHome:
    course: Course
    questions: list[QuestionHome]

    @property
    def to_review(self) -> int:
        return sum(question.to_review for question in self.questions)

    @property
    def awaiting_review(self) -> int:
        return sum(question.awaiting_review for question in self.questions)

    @property
    def next_to_review_id(self) -> int | None:
        """The first answer of the course's most urgent question: awaiting review before merely unchecked."""
        waiting = [q for q in self.questions if q.next_to_review_id is not None]
        waiting.sort(key=lambda q: (-q.awaiting_review, -q.to_review))
        return waiting[0].next_to_review_id if waiting else None


def teacher_home(*, user: AbstractBaseUser, now: datetime | None = None) -> list[CourseHome]:
    """The user's courses, each with its answered questions and what waits in them; one query for the questions."""
    since = (now or timezone.now()) - NEW_GRADES_WINDOW
    both_grades = Q(submissions__points__isnull=False, submissions__corrected_points__isnull=False)
    first_in_queue = submissions_review_queue(
        queryset=Submission.objects.filter(question=OuterRef("pk"), points__isnull=False, corrected_points__isnull=True)
    ).values("pk")[:1]
    questions = (
        questions_for_user(user=user)
        .annotate(
            answers=Count("submissions"),
            awaiting_review=Count("submissions", filter=Q(submissions__status=Submission.Status.NEEDS_REVIEW)),
            to_review=Count(
                "submissions",
                filter=Q(submissions__points__isnull=False, submissions__corrected_points__isnull=True),
            ),
            new_grades=Count("submissions", filter=Q(submissions__graded_at__gte=since)),
            corrected=Count("submissions", filter=both_grades),
            mean_error=Avg(Abs(F("submissions__points") - F("submissions__corrected_points")), filter=both_grades),
            exact=Count("submissions", filter=both_grades & Q(submissions__points=F("submissions__corrected_points"))),
            next_to_review_id=Subquery(first_in_queue),
        )
        .filter(answers__gt=0)
        .order_by("key")
    )
    by_course: dict[int, list[QuestionHome]] = {}
    for question in questions:
        by_course.setdefault(question.course_id, []).append(
            QuestionHome(
                question=question,
                answers=question.answers,
                awaiting_review=question.awaiting_review,
                to_review=question.to_review,
                new_grades=question.new_grades,
                corrected=question.corrected,
                mean_error=None if question.mean_error is None else float(question.mean_error),
                exact_share=question.exact / question.corrected if question.corrected else None,
                next_to_review_id=question.next_to_review_id,
            )
        )
    return [
        CourseHome(course=course, questions=by_course.get(course.pk, []))
        for course in courses_for_user(user=user).filter(archived_at__isnull=True).order_by("code")
    ]
