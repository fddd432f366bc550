"""One rule for a broker that cannot take a message: the work stays recorded and a sweeper sends it again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from kombu.exceptions import OperationalError

from grader import dispatch
from grader.celery import app
from grader.db import database_now
from grader.models import ModelVersion, Question
from grader.services import regrading


@pytest.fixture
def broker_down(monkeypatch) -> None:
    """Every publish fails as kombu fails when Redis refuses connections."""

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "signature", lambda *args, **kwargs: type("Refused", (), {"apply_async": refuse})())


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple, dict]]:
    """The messages published, instead of publishing them."""
    messages: list[tuple[str, tuple, dict]] = []

    def publish(task: str, *, args: tuple = (), kwargs: dict | None = None, countdown=None, what: str) -> bool:
        messages.append((task, args, kwargs or {}))
        return True

    monkeypatch.setattr(dispatch, "_publish", publish)
    return messages


@pytest.mark.parametrize(
    "enqueue",
    [
        lambda: dispatch.enqueue_grading(1),
        lambda: dispatch.enqueue_delivery(1, countdown=5),
        lambda: dispatch.enqueue_regrade(1),
        lambda: dispatch.enqueue_dry_run(1),
        lambda: dispatch.enqueue_retrain(trigger="test"),
    ],
    ids=["grading", "delivery", "regrade", "dry_run", "retrain"],
)
def test_a_publish_the_broker_refuses_is_logged_and_reported_not_raised(broker_down, enqueue, caplog):
    assert enqueue() is False
    assert "its sweeper will publish it again" in caplog.text


def test_a_regrade_is_recorded_before_its_message_and_cleared_by_its_task(
    base_model_version, gradient_descent_question, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        regrading.regrade_enqueue(question_ids=[gradient_descent_question.pk])
    gradient_descent_question.refresh_from_db()
    assert gradient_descent_question.regrade_requested_at is not None
    assert sent == [(dispatch.REGRADE_QUESTION, (gradient_descent_question.pk,), {})]

    regrading.question_regrade_requested(question_id=gradient_descent_question.pk)
    gradient_descent_question.refresh_from_db()
    assert gradient_descent_question.regrade_requested_at is None


def test_a_regrade_requested_again_while_one_runs_stays_requested(
    base_model_version, gradient_descent_question, sent, monkeypatch
):
    regrading.regrade_enqueue(question_ids=[gradient_descent_question.pk])
    later = database_now() + timedelta(seconds=1)

    def regrade_meanwhile_requested_again(*, question_ids: list[int]) -> int:
        Question.objects.filter(pk__in=question_ids).update(regrade_requested_at=later)
        return 0

    monkeypatch.setattr(regrading, "submissions_regrade", regrade_meanwhile_requested_again)
    regrading.question_regrade_requested(question_id=gradient_descent_question.pk)
    gradient_descent_question.refresh_from_db()
    assert gradient_descent_question.regrade_requested_at == later


def test_the_sweeper_sends_a_regrade_again_only_once_its_lease_ran_out(gradient_descent_question, sent):
    now = database_now()
    Question.objects.filter(pk=gradient_descent_question.pk).update(regrade_requested_at=now - timedelta(minutes=1))
    assert regrading.regrades_requeue_stale() == 0
    assert sent == []

    Question.objects.filter(pk=gradient_descent_question.pk).update(
        regrade_requested_at=now - regrading.REGRADE_LEASE - timedelta(seconds=1)
    )
    assert regrading.regrades_requeue_stale() == 1
    assert sent == [(dispatch.REGRADE_QUESTION, (gradient_descent_question.pk,), {})]
    # The clock restarted: the next sweep leaves it to the message just sent.
    assert regrading.regrades_requeue_stale() == 0
    assert len(sent) == 1


def test_with_the_broker_down_the_sweeper_keeps_the_request_due(gradient_descent_question, broker_down):
    overdue = database_now() - regrading.REGRADE_LEASE - timedelta(seconds=1)
    Question.objects.filter(pk=gradient_descent_question.pk).update(regrade_requested_at=overdue)
    assert regrading.regrades_requeue_stale() == 0
    gradient_descent_question.refresh_from_db()
    assert gradient_descent_question.regrade_requested_at == overdue


def test_a_dry_run_is_recorded_sent_swept_and_cleared(
    base_model_version, sent, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        regrading.model_version_dry_run_request(version=base_model_version)
    assert sent == [(dispatch.DRY_RUN_MODEL_VERSION, (base_model_version.pk,), {})]

    overdue = database_now() - regrading.DRY_RUN_LEASE - timedelta(seconds=1)
    ModelVersion.objects.filter(pk=base_model_version.pk).update(dry_run_requested_at=overdue)
    assert regrading.dry_runs_requeue_stale() == 1
    assert len(sent) == 2

    report = regrading.model_version_dry_run_requested(version_id=base_model_version.pk)
    base_model_version.refresh_from_db()
    assert base_model_version.dry_run == report
    assert base_model_version.dry_run_requested_at is None


def test_an_admin_dry_run_with_the_broker_down_answers_and_stays_recorded(
    client, base_model_version, broker_down, django_capture_on_commit_callbacks
):
    client.force_login(get_user_model().objects.create_superuser("operator", password="x"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:grader_modelversion_changelist"),
            {"action": "dry_run_diff", "_selected_action": [base_model_version.pk], "post": "yes"},
        )
    assert response.status_code == 302
    base_model_version.refresh_from_db()
    assert base_model_version.dry_run_requested_at is not None


def test_every_task_a_service_sends_is_registered():
    # Importing the task modules registers their tasks with the app.
    import grader.lti.tasks
    import grader.tasks  # noqa: F401

    sent_by_services = {
        dispatch.GRADE_SUBMISSION,
        dispatch.DELIVER_WEBHOOK,
        dispatch.REGRADE_QUESTION,
        dispatch.DRY_RUN_MODEL_VERSION,
        dispatch.RETRAIN_MODEL,
        dispatch.POST_LTI_SCORE,
    }
    assert sent_by_services <= set(app.tasks)


def test_routing_is_stated_once_in_the_settings_for_every_task():
    import grader.lti.tasks
    import grader.tasks  # noqa: F401

    graders = {name: task for name, task in app.tasks.items() if name.startswith("grader.")}
    assert set(graders) == set(app.conf.task_routes)
    assert [name for name, task in graders.items() if getattr(task, "queue", None)] == []


def test_the_leases_outlast_their_tasks_so_a_running_one_is_never_sent_twice():
    import grader.tasks  # noqa: F401

    assert regrading.REGRADE_LEASE.total_seconds() > app.tasks["grader.tasks.regrade_question"].time_limit
    assert regrading.DRY_RUN_LEASE.total_seconds() > app.tasks["grader.tasks.dry_run_model_version"].time_limit


def test_retrain_now_with_the_broker_down_answers_and_says_nothing_was_queued(client, db, broker_down):
    client.force_login(get_user_model().objects.create_superuser("operator", password="x"))
    response = client.post(reverse("admin:grader_trainingrun_retrain"), follow=True)
    assert response.status_code == 200
    assert "nothing was queued" in response.content.decode()
