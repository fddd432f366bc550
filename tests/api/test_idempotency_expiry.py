"""An Idempotency-Key is remembered for GRADER_IDEMPOTENCY_KEY_TTL_HOURS; beat deletes expired ones in batches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from grader import tasks
from grader.models import IdempotencyRecord, Submission
from grader.services.idempotency import idempotency_records_purge_expired

TTL_HOURS = 24


@pytest.fixture(autouse=True)
def _ttl(settings) -> None:
    settings.GRADER_IDEMPOTENCY_KEY_TTL_HOURS = TTL_HOURS


def _age(hours: float, **lookup) -> None:
    IdempotencyRecord.objects.filter(**lookup).update(created_at=timezone.now() - timedelta(hours=hours))


def _records(integration, keys: list[str]) -> None:
    IdempotencyRecord.objects.bulk_create(
        IdempotencyRecord(integration=integration, key=key, fingerprint="0" * 64) for key in keys
    )


def test_a_key_within_its_lifetime_still_replays(api, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "first"}
    first = api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-young")
    _age(TTL_HOURS - 1, key="k-young")
    again = api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-young")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Submission.objects.count() == 1


def test_a_replay_after_expiry_is_a_new_request_even_before_the_purge(api, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "first"}
    first = api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-old")
    _age(TTL_HOURS + 1, key="k-old")

    again = api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-old")
    assert again.status_code == 202
    assert again.json()["id"] != first.json()["id"]
    # Another body under the expired key is no longer a conflict (422) either.
    other = api.post("/api/v1/submissions/", {**body, "answer": "second"}, format="json", HTTP_IDEMPOTENCY_KEY="k-x")
    _age(TTL_HOURS + 1, key="k-x")
    assert api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-x").status_code == 202
    assert other.status_code == 202
    assert Submission.objects.count() == 4
    # The key now remembers the new request.
    assert IdempotencyRecord.objects.get(key="k-old").submission_ids == [again.json()["id"]]


def test_external_id_still_deduplicates_after_the_key_expired(api, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "a", "external_id": "attempt-1"}
    first = api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-ext")
    _age(TTL_HOURS + 1, key="k-ext")
    again = api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-ext")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Submission.objects.count() == 1


def test_purge_deletes_only_expired_records(integration_and_token):
    integration, _ = integration_and_token
    _records(integration, ["old-1", "old-2", "old-3", "young"])
    _age(TTL_HOURS + 1, key__startswith="old-")
    _age(TTL_HOURS - 1, key="young")

    assert idempotency_records_purge_expired(batch_size=2) == 3
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["young"]
    assert idempotency_records_purge_expired() == 0


def test_purge_stops_after_its_batch_budget_and_the_next_run_goes_on(integration_and_token):
    integration, _ = integration_and_token
    _records(integration, [f"old-{i}" for i in range(5)])
    _age(TTL_HOURS + 1)

    assert idempotency_records_purge_expired(batch_size=2, max_batches=2) == 4
    assert IdempotencyRecord.objects.count() == 1
    assert tasks.purge_expired_idempotency_keys() == 1
    assert not IdempotencyRecord.objects.exists()


def test_beat_purges_expired_keys_every_hour(beat_started):
    task = PeriodicTask.objects.get(name="Delete expired idempotency keys")
    assert task.enabled
    assert task.task == "grader.tasks.purge_expired_idempotency_keys"
    assert (task.interval.every, task.interval.period) == (3600, "seconds")
