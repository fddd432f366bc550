"""Webhooks against a real local HTTP receiver: signed with HMAC-SHA256, retried after a failure, logged."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from grader.models import Submission, WebhookDelivery
from grader.services.submissions import correction_create
from grader.services.webhooks import backoff_seconds, webhook_delivery_attempt, webhook_delivery_replay
from tests.api.receiver import start_receiver
from tests.conftest import wait_until


def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """What docs/api.md tells receivers to do."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp = fields.get("t", "")
    if not timestamp.isascii() or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


@pytest.fixture
def receiver():
    receiver, server = start_receiver(fail_first=1)
    yield receiver
    server.shutdown()


@pytest.fixture
def registered(owner, receiver, settings) -> str:
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.GRADER_WEBHOOK_ALLOW_HTTP = True
    response = owner.client.post("/api/v1/webhooks/", {"url": receiver.url}, format="json")
    assert response.status_code == 201
    return response.json()["secret"]


def _due_now(delivery_id: int) -> None:
    # Stands in for the task's countdown elapsing.
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())


def test_correction_is_delivered_signed_and_retried_after_the_receiver_fails(
    registered, receiver, owned_submission, teacher, second
):
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
    [delivery] = WebhookDelivery.objects.all()

    first = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert first.sent and not first.succeeded and first.retry_in > 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at > timezone.now()
    # Not due yet: a duplicate message does nothing.
    assert not webhook_delivery_attempt(delivery_id=delivery.pk).sent

    _due_now(delivery.pk)
    second_attempt = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert second_attempt.succeeded
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert [entry["status_code"] for entry in delivery.attempt_log] == [500, 200]

    assert [r.answered for r in receiver.requests] == [500, 200]
    for received in receiver.requests:
        assert verify(registered, received.body, received.headers["X-Grader-Signature"])
        assert not verify("whsec_wrong", received.body, received.headers["X-Grader-Signature"])
    assert receiver.requests[0].body == receiver.requests[1].body
    event = json.loads(receiver.requests[1].body)
    assert event["type"] == "submission.grade_changed" and event["reason"] == "correction"
    assert event["data"]["submission"]["final_points"] == "4.00"
    assert receiver.requests[1].headers["X-Grader-Event-Id"] == event["id"]


def test_only_integrations_of_the_course_get_the_event(registered, owned_submission, teacher, second, settings):
    second_receiver, server = start_receiver()
    try:
        second.client.post("/api/v1/webhooks/", {"url": second_receiver.url}, format="json")
        correction_create(submission=owned_submission, teacher=teacher, points=Decimal("1"))
        assert {d.endpoint.integration for d in WebhookDelivery.objects.all()} == {owned_submission.integration}
    finally:
        server.shutdown()


def test_delivery_gives_up_after_the_attempt_limit(registered, receiver, owned_submission, teacher, settings):
    settings.GRADER_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.fail_first = 10
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
    delivery = WebhookDelivery.objects.get()
    assert webhook_delivery_attempt(delivery_id=delivery.pk).retry_in is not None
    _due_now(delivery.pk)
    assert webhook_delivery_attempt(delivery_id=delivery.pk).retry_in is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)


def test_replay_sends_the_same_event_again_as_a_new_delivery(registered, receiver, owned_submission, teacher):
    receiver.fail_first = 0
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
    original = WebhookDelivery.objects.get()
    webhook_delivery_attempt(delivery_id=original.pk)
    replay = webhook_delivery_replay(delivery=original)
    assert webhook_delivery_attempt(delivery_id=replay.pk).succeeded
    assert replay.event_id == original.event_id and replay.replay_of == original
    assert receiver.requests[0].body == receiver.requests[1].body


def test_backoff_grows_exponentially_up_to_the_cap(settings):
    settings.GRADER_WEBHOOK_BACKOFF_SECONDS = 10
    settings.GRADER_WEBHOOK_BACKOFF_MAX_SECONDS = 100
    assert 5 <= backoff_seconds(1) <= 10
    assert 20 <= backoff_seconds(3) <= 40
    assert 50 <= backoff_seconds(9) <= 100


def test_admin_replay_action_queues_a_new_delivery(admin_client, registered, owned_submission, teacher):
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("4"))
    original = WebhookDelivery.objects.get()
    response = admin_client.post(
        "/admin/grader/webhookdelivery/", {"action": "replay", "_selected_action": [original.pk]}
    )
    assert response.status_code == 302
    assert WebhookDelivery.objects.filter(replay_of=original).count() == 1


@pytest.fixture
def worker_env(monkeypatch, settings):
    """Read by the worker process at start: list this fixture before celery_worker_process."""
    monkeypatch.setenv("GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS", "true")
    monkeypatch.setenv("GRADER_WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("GRADER_WEBHOOK_BACKOFF_SECONDS", "0.5")
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.GRADER_WEBHOOK_ALLOW_HTTP = True


@pytest.mark.e2e
def test_graded_and_corrected_submission_reach_the_receiver_through_the_worker(
    worker_env, celery_worker_process, receiver, owner, base_model_version, gradient_descent_question, teacher
):
    secret = owner.client.post("/api/v1/webhooks/", {"url": receiver.url}, format="json").json()["secret"]
    body = {"question": gradient_descent_question.pk, "student_ref": "s1", "answer": "It lowers the loss step by step."}
    submission_id = owner.client.post("/api/v1/submissions/", body, format="json").json()["id"]

    # The receiver fails the first POST; the task retries after its backoff and the second one lands.
    wait_until(lambda: len(receiver.requests) >= 2, timeout=120)
    graded = json.loads(receiver.requests[1].body)
    assert graded["type"] == "submission.graded"
    assert graded["data"]["submission"]["id"] == submission_id
    assert graded["data"]["submission"]["status"] == "graded"
    assert [r.answered for r in receiver.requests[:2]] == [500, 200]

    correction_create(submission=Submission.objects.get(pk=submission_id), teacher=teacher, points=Decimal("1"))
    wait_until(lambda: len(receiver.requests) >= 3, timeout=60)
    assert json.loads(receiver.requests[2].body)["type"] == "submission.grade_changed"
    assert all(verify(secret, r.body, r.headers["X-Grader-Signature"]) for r in receiver.requests)
    wait_until(lambda: set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}, timeout=30)
