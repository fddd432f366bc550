"""The whole loop on real services: HTTP → Redis → a real Celery worker → PostgreSQL → admin → retrain."""

from decimal import Decimal

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command

from grader.models import ModelVersion, Submission, TrainingRun
from grader.services.model_versions import model_version_activate
from grader.services.submissions import correction_create
from tests.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def submit(live_server, token: str, question_id: int, answer: str, external_id: str) -> dict:
    response = requests.post(
        f"{live_server.url}/api/v1/submissions/",
        json={"question": question_id, "student_ref": "student-1", "answer": answer, "external_id": external_id},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()


def graded(live_server, token: str, body: dict) -> dict | None:
    current = requests.get(body["url"], headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    return current if current["status"] == "graded" else None


def test_submit_grade_correct_retrain_and_grade_with_the_new_version(
    live_server, celery_worker_process, base_model_version, gradient_descent_question, integration_and_token, settings
):
    _, token = integration_and_token
    question = gradient_descent_question

    first = submit(
        live_server, token, question.pk, "It moves the weights a little at a time so the loss goes down.", "a1"
    )
    assert first["status"] == "queued"
    result = wait_until(lambda: graded(live_server, token, first), timeout=90)
    first_points = Decimal(result["points"])
    assert result["model_version"] == base_model_version.name
    assert 0 <= Decimal(result["points"]) <= question.max_points
    submission = Submission.objects.get(pk=first["id"])
    assert submission.similarity == pytest.approx(result["similarity"])
    assert submission.graded_at is not None

    teacher = get_user_model().objects.create_user("ada", is_staff=True)
    correction_create(submission=submission, teacher=teacher, points=question.max_points, comment="Right.")

    # One epoch keeps the test short; the recipe itself (4 epochs) is covered by test_training.py.
    settings.GRADER_TRAIN_EPOCHS = 1
    # One correction is below GRADER_RETRAIN_MIN_NEW_CORRECTIONS: --force trains anyway.
    call_command("retrain", "--force")
    # The gate judges only held-out teacher corrections: with one correction there are fewer than it needs, so
    # the candidate stays inactive (its own tests cover the judgement); an operator can still activate it by hand
    # (the admin's Activate action).
    run = TrainingRun.objects.latest("pk")
    new_version = run.produced_version
    assert new_version.parent == base_model_version
    gate = new_version.evaluation["gate"]
    assert gate["reason"] == run.reason and gate["promote"] is False
    assert new_version.status == ModelVersion.Status.REJECTED
    model_version_activate(version=new_version)
    base_model_version.refresh_from_db()
    assert base_model_version.status == ModelVersion.Status.RETIRED

    # The running worker picks the new version up without a restart; the earlier grade keeps its version.
    second = submit(live_server, token, question.pk, "Gradient descent lowers the loss by stepping downhill.", "a2")
    result = wait_until(lambda: graded(live_server, token, second), timeout=90)
    assert result["model_version"] == new_version.name
    submission.refresh_from_db()
    assert submission.model_version == base_model_version
    assert submission.points == first_points
    assert submission.corrected_points == question.max_points
