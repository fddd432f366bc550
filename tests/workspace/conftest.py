"""Teachers (owner, colleague, stranger) and a class's answers graded for real by the base model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from grader.models import Course, Question, Submission
from grader.services.courses import question_create
from grader.services.submissions import submission_grade

PASSWORD = "pw-teacher-123"

GRADIENT_DESCENT_ANSWERS = [
    # Paraphrases of a full answer.
    "Gradient descent is an optimization method that changes the parameters step by step to reduce the loss.",
    "It is an algorithm that repeatedly moves the parameters against the gradient so the loss function gets smaller.",
    "Gradient descent minimizes the loss by updating the model parameters in the direction of steepest descent.",
    # Off topic.
    "Photosynthesis turns sunlight into sugar in the leaves of plants.",
    "Plants use light, water and carbon dioxide to make sugar and oxygen.",
    # Vague.
    "It is something used in machine learning.",
]


def _teacher(username: str, *courses: Course):
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="grader"))
    for course in courses:
        course.teachers.add(user)
    return user


@pytest.fixture
def foreign_question(db) -> Question:
    course = Course.objects.create(code="BIO200", name="Plant biology")
    return question_create(
        course=course,
        key="photosynthesis",
        prompt="What is photosynthesis?",
        max_points=Decimal("4"),
        reference_answers=["Plants turn light, water and carbon dioxide into sugar and oxygen."],
    )


@pytest.fixture
def owner(demo_course):
    return _teacher("ada", demo_course)


@pytest.fixture
def colleague(demo_course):
    return _teacher("grace", demo_course)


@pytest.fixture
def stranger(foreign_question):
    return _teacher("linus", foreign_question.course)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", password=PASSWORD)


def grade_answers(question: Question, answers: list[str], prefix: str = "student") -> list[Submission]:
    """Submissions graded in this process by the active model version, as the worker would grade them."""
    submissions = []
    for number, answer in enumerate(answers, start=1):
        submission = Submission.objects.create(question=question, student_ref=f"{prefix}-{number}", answer=answer)
        assert submission_grade(submission_id=submission.pk)
        submission.refresh_from_db()
        submissions.append(submission)
    return submissions


@pytest.fixture
def class_answers(base_model_version, gradient_descent_question) -> list[Submission]:
    return grade_answers(gradient_descent_question, GRADIENT_DESCENT_ANSWERS)


@pytest.fixture
def foreign_answers(base_model_version, foreign_question) -> list[Submission]:
    return grade_answers(foreign_question, ["Plants make sugar from light."], prefix="bio-student")
