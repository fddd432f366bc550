"""Webhook deliveries travel on their own queue, so a slow receiver never holds up a grading process."""

from __future__ import annotations

import json
import os

import pytest
from django_celery_beat.models import PeriodicTask

from grader import tasks
from tests.conftest import _purge_broker


@pytest.fixture
def broker():
    import redis

    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://... (make test sets it)")
    _purge_broker(broker_url)
    client = redis.Redis.from_url(broker_url)
    yield client
    _purge_broker(broker_url)


def _tasks_on(broker, queue: str) -> list[str]:
    return [json.loads(raw)["headers"]["task"] for raw in broker.lrange(queue, 0, -1)]


def test_webhook_tasks_are_published_to_the_webhooks_queue_and_grading_to_grading(broker):
    tasks.deliver_webhook.delay(1)
    tasks.requeue_due_webhook_deliveries.delay()
    tasks.grade_submission.delay(1)

    assert sorted(_tasks_on(broker, "webhooks")) == [
        "grader.tasks.deliver_webhook",
        "grader.tasks.requeue_due_webhook_deliveries",
    ]
    assert _tasks_on(broker, "grading") == ["grader.tasks.grade_submission"]


def test_beat_sends_the_webhook_sweeper_to_the_webhooks_queue(beat_started, broker):
    # Beat publishes with the queue stored on its row, if any, over the routing: the rows name none.
    task = PeriodicTask.objects.get(task="grader.tasks.requeue_due_webhook_deliveries")
    assert task.queue is None
    beat_started.apply_async(beat_started.schedule[task.name])
    assert _tasks_on(broker, "webhooks") == ["grader.tasks.requeue_due_webhook_deliveries"]
    assert _tasks_on(broker, "grading") == []
