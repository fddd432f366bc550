"""Liveness answers whenever the process does; readiness needs the database, the broker, a recent worker heartbeat
and an active model version with its artifact, and tells an anonymous caller which check failed but not why."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from grader.models import ModelVersion, WorkerHeartbeat
from grader.services.workers import worker_heartbeat_record


@pytest.fixture
def ready(base_model_version):
    worker_heartbeat_record(hostname="celery@grading-1", incarnation="a", queues=["grading"])
    return base_model_version


def readiness() -> tuple[int, dict]:
    response = Client().get("/readyz")
    return response.status_code, response.json()


def test_liveness_answers_anonymous_callers_without_touching_dependencies():
    # No database fixture: a query would raise here instead of answering.
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_database_broker_worker_and_model_are_there(ready):
    status, body = readiness()
    assert status == 200
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "worker_heartbeat": "ok", "active_model": "ok"},
    }


def test_not_ready_without_a_recent_worker_heartbeat(ready):
    WorkerHeartbeat.objects.update(last_seen_at=timezone.now() - timedelta(minutes=5))
    status, body = readiness()
    assert status == 503
    assert body["checks"]["worker_heartbeat"] == "fail"
    assert body["checks"]["database"] == "ok"


def test_a_training_worker_alone_does_not_make_grading_ready(base_model_version):
    worker_heartbeat_record(hostname="celery@training-1", incarnation="b", queues=["training"])
    status, body = readiness()
    assert (status, body["checks"]["worker_heartbeat"]) == (503, "fail")


def test_not_ready_without_an_active_model_version(ready):
    ModelVersion.objects.update(status=ModelVersion.Status.RETIRED)
    status, body = readiness()
    assert (status, body["checks"]["active_model"]) == (503, "fail")


def test_not_ready_when_the_active_model_artifact_is_missing(ready, settings, tmp_path):
    settings.GRADER_MODEL_DIR = str(tmp_path)  # the version's files are not on this machine
    status, body = readiness()
    assert (status, body["checks"]["active_model"]) == (503, "fail")


def test_not_ready_when_the_broker_is_unreachable(ready, monkeypatch):
    from grader.celery import app

    connect = app.connection_for_write
    monkeypatch.setattr(app, "connection_for_write", lambda: connect(url="redis://127.0.0.1:1/0"))
    status, body = readiness()
    assert (status, body["checks"]["broker"]) == (503, "fail")
    assert set(body) == {"status", "checks"}  # no error text for anonymous callers
