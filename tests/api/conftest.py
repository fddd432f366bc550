"""An owner integration, a second integration with its own course, a stranger, and a course teacher."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from grader.models import Course, Integration, Question, Submission
from grader.services.courses import question_create
from grader.services.integrations import integration_create


def bearer(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@dataclass
class Party:
    integration: Integration | None
    client: APIClient


@pytest.fixture(autouse=True)
def _fresh_throttle_budget():
    # Throttle history lives in the cache; each test starts with a full budget.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def owner(integration_and_token) -> Party:
    integration, token = integration_and_token
    return Party(integration, bearer(token))


@pytest.fixture
def second_course(db) -> Course:
    return Course.objects.create(code="SECOND", name="The second school's course")


@pytest.fixture
def second_question(second_course) -> Question:
    return question_create(
        course=second_course,
        key="osmosis",
        prompt="What is osmosis?",
        max_points=Decimal("3"),
        reference_answers=["Water moving through a membrane towards the higher concentration of solutes."],
    )


@pytest.fixture
def second(second_course) -> Party:
    integration, token = integration_create(name="second-lms", courses=[second_course])
    return Party(integration, bearer(token))


@pytest.fixture
def stranger(db) -> Party:
    return Party(None, bearer(None))


@pytest.fixture
def teacher(demo_course):
    user = get_user_model().objects.create_user("ada", password="ada-password-1")
    demo_course.teachers.add(user)
    return user


@pytest.fixture
def owned_submission(owner, gradient_descent_question) -> Submission:
    return Submission.objects.create(
        question=gradient_descent_question,
        integration=owner.integration,
        student_ref="student-1",
        external_id="attempt-1",
        answer="It follows the negative gradient to lower the loss.",
        status=Submission.Status.GRADED,
        points=Decimal("3.5"),
        similarity=0.7,
    )


@pytest.fixture
def second_submission(second, second_question) -> Submission:
    return Submission.objects.create(
        question=second_question, integration=second.integration, student_ref="s-9", answer="Water moves."
    )


def basic(username: str, password: str) -> APIClient:
    client = APIClient()
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")
    return client
