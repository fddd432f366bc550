"""Courses, questions and reference answers."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from grader.models import Course, Integration, Question, ReferenceAnswer


@transaction.atomic
def question_create(
    *, course: Course, key: str, prompt: str, max_points: Decimal, reference_answers: list[str]
) -> Question:
    if not reference_answers:
        raise ValueError("a question needs at least one reference answer")
    question = Question.objects.create(course=course, key=key, prompt=prompt, max_points=max_points)
    ReferenceAnswer.objects.bulk_create(ReferenceAnswer(question=question, text=text) for text in reference_answers)
    return question


@transaction.atomic
def course_load_json(*, path: str | Path) -> Course:
    """Create or update a course and its questions from a JSON file in the shape of fixtures/demo_course.json.

    Loading the same file twice changes nothing: questions are matched by key, reference answers by text.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    course = Course.objects.filter(code=data["course"]["code"]).order_by("pk").first()
    if course is None:
        course = Course.objects.create(code=data["course"]["code"], name=data["course"]["name"])
    else:
        Course.objects.filter(pk=course.pk).update(name=data["course"]["name"])
    for item in data["questions"]:
        question, _ = Question.objects.update_or_create(
            course=course,
            key=item["key"],
            defaults={"prompt": item["prompt"], "max_points": Decimal(str(item["max_points"]))},
        )
        existing = set(question.reference_answers.values_list("text", flat=True))
        ReferenceAnswer.objects.bulk_create(
            ReferenceAnswer(question=question, text=text) for text in item["reference_answers"] if text not in existing
        )
    return course


@transaction.atomic
def course_create(*, code: str, name: str, integration: Integration | None = None) -> Course:
    """A new course; created through the API, it joins the calling integration's scope.

    Codes are unique within an integration's courses only: whether another school uses the code is none of the
    caller's business, so it is neither checked nor told.
    """
    if integration is not None:
        # Locked so that two concurrent creations with one code cannot both pass the check.
        Integration.objects.select_for_update().filter(pk=integration.pk).first()
        if integration.courses.filter(code=code).exists():
            raise ValidationError({"code": ["One of your courses already has this code."]})
    course = Course.objects.create(code=code, name=name)
    if integration is not None:
        integration.courses.add(course)
    return course


def course_update(*, course: Course, name: str) -> Course:
    Course.objects.filter(pk=course.pk).update(name=name)
    course.refresh_from_db()
    return course


def course_archive(*, course: Course) -> Course:
    """An archived course accepts no new questions or submissions; it, its questions and grades stay readable.

    Archiving again keeps the first time: a retried request changes nothing.
    """
    Course.objects.filter(pk=course.pk, archived_at__isnull=True).update(archived_at=timezone.now())
    course.refresh_from_db()
    return course


@transaction.atomic
def question_update(
    *,
    question: Question,
    prompt: str | None = None,
    max_points: Decimal | None = None,
    reference_answers: list[str] | None = None,
) -> Question:
    """Change a question; ``reference_answers`` replaces the set.

    References whose text is kept keep their id (and their cached embeddings); removed ones are deleted, so
    submissions graded against them lose only the link to the reference, never their grade.
    """
    question = Question.objects.select_for_update().get(pk=question.pk)
    if prompt is not None:
        question.prompt = prompt
    if max_points is not None:
        question.max_points = max_points
    question.save(update_fields=["prompt", "max_points", "updated_at"])
    if reference_answers is not None:
        if not reference_answers:
            raise ValueError("a question needs at least one reference answer")
        wanted = list(dict.fromkeys(reference_answers))
        question.reference_answers.exclude(text__in=wanted).delete()
        existing = set(question.reference_answers.values_list("text", flat=True))
        ReferenceAnswer.objects.bulk_create(
            ReferenceAnswer(question=question, text=text) for text in wanted if text not in existing
        )
    return question


def question_archive(*, question: Question) -> Question:
    """Archived questions accept no new submissions; their submissions and grades stay readable."""
    Question.objects.filter(pk=question.pk, archived_at__isnull=True).update(
        archived_at=timezone.now(), updated_at=timezone.now()
    )
    question.refresh_from_db()
    return question
