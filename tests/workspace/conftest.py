"""Teachers (owner, colleague, stranger) and a class's answers graded for real by the base model."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from grader.models import Course, Question, Submission
from grader.services.grading_models import model_for_active_version
from tests.grading import grade_items

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


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # The default hasher is slow on purpose; three teachers per test would cost seconds for nothing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _teacher(username: str, *courses: Course):
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="grader").exclude(codename="operate_models")
    )
    for course in courses:
        course.teachers.add(user)
    return user


@pytest.fixture
def owner(demo_course):
    return _teacher("ada", demo_course)


@pytest.fixture
def colleague(demo_course):
    return _teacher("grace", demo_course)


@pytest.fixture
def stranger(other_course_question):
    return _teacher("linus", other_course_question.course)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", password=PASSWORD)


def grade_answers(question: Question, answers: list[str], prefix: str = "student") -> list[Submission]:
    """Submissions graded by the active model version with the grading service's scoring, in one batch.

    One encode call for the whole class rather than one per answer (as the worker does): same grades, less time.
    """
    version, model = model_for_active_version()
    scores = grade_items(model=model, version=version, items=[(question, answer) for answer in answers])
    submissions = []
    for number, (answer, score) in enumerate(zip(answers, scores, strict=True), start=1):
        submissions.append(
            Submission.objects.create(
                question=question,
                student_ref=f"{prefix}-{number}",
                answer=answer,
                status=Submission.Status.NEEDS_REVIEW if score.needs_review else Submission.Status.GRADED,
                similarity=score.similarity,
                points=score.points,
                confidence=score.confidence,
                review_reasons=",".join(score.review_reasons),
                best_reference_id=score.best_reference_id,
                model_version=version,
                graded_at=timezone.now(),
            )
        )
    return submissions


@pytest.fixture
def class_answers(base_model_version, gradient_descent_question) -> list[Submission]:
    return grade_answers(gradient_descent_question, GRADIENT_DESCENT_ANSWERS)


@pytest.fixture
def foreign_answers(base_model_version, other_course_question) -> list[Submission]:
    return grade_answers(other_course_question, ["Plants make sugar from light."], prefix="bio-student")
