"""Shared fixtures: real PostgreSQL (pytest-django's test database), real Redis, the real model.

Environment (set by `make test`): DATABASE_URL for PostgreSQL, CELERY_BROKER_URL for Redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from grader.models import Course, Integration, ModelVersion, Question
from grader.scoring.model import base_model_path
from grader.services.courses import course_load_json, question_create
from grader.services.integrations import integration_create
from grader.services.model_versions import model_version_activate
from training.finetune import directory_sha256

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIXTURES_DIR = PROJECT_DIR / "fixtures"


# Fixtures that start processes: a Celery worker or beat, a live server, a browser, a private database or Redis.
# Their tests are marked `processes` here, so the fast lane (`make test-fast`) leaves them out without anyone
# having to remember the marker.
PROCESS_FIXTURES = {"celery_worker_process", "spawn", "live_server", "browser", "launcher", "private_postgres"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.processes)


@pytest.fixture(scope="session")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model artifacts of this test session; every test that trains writes here, never to var/."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def _isolated_model_dir(settings, model_root: Path) -> None:
    settings.GRADER_MODEL_DIR = str(model_root)


@pytest.fixture(scope="session")
def base_model_artifact(model_root: Path) -> str:
    """The packaged base model, copied once into the session's model directory."""
    target = model_root / "base"
    if not target.exists():
        shutil.copytree(base_model_path(), target)
    return "base"


@pytest.fixture
def base_model_version(db, base_model_artifact: str) -> ModelVersion:
    """An active version that is the untouched base model: fast, and its similarities are known."""
    version = ModelVersion.objects.create(
        name="base",
        artifact_path=base_model_artifact,
        sha256=directory_sha256(Path(settings.GRADER_MODEL_DIR) / base_model_artifact),
    )
    model_version_activate(version=version)
    version.refresh_from_db()
    return version


@pytest.fixture
def demo_course(db) -> Course:
    return course_load_json(path=FIXTURES_DIR / "demo_course.json")


@pytest.fixture
def gradient_descent_question(demo_course: Course) -> Question:
    return demo_course.questions.get(key="gradient-descent")


@pytest.fixture
def other_course_question(db) -> Question:
    course = Course.objects.create(code="OTHER", name="Another school's course")
    return question_create(
        course=course,
        key="photosynthesis",
        prompt="What is photosynthesis?",
        max_points=Decimal("4"),
        reference_answers=["Plants turn light, water and carbon dioxide into sugar and oxygen."],
    )


@pytest.fixture
def integration_and_token(demo_course: Course) -> tuple[Integration, str]:
    return integration_create(name="test-lms", courses=[demo_course])


@pytest.fixture
def redis_cache(settings) -> Iterator[None]:
    """The default cache on the real Redis (a database of its own), as docker-compose deploys it: what the throttle,
    the token look-up and the shared grading messages need to share across processes."""
    from django.core.cache import cache

    database = os.environ.get("GRADER_TEST_CACHE_DB", "13")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/" + database,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(integration_and_token: tuple[Integration, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {integration_and_token[1]}")
    return client


@pytest.fixture
def celery_worker_process(live_server, model_root: Path) -> Iterator[subprocess.Popen]:
    """A real `celery worker` process on Redis, reading and writing pytest-django's test database.

    It consumes the grading and the webhooks queue, so tests see both grades and webhook deliveries.

    Depends on live_server so that the test database is transactional (committed rows are visible to it).
    """
    from django.db import connection

    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://... (make test sets it)")
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": broker_url,
        "GRADER_MODEL_DIR": str(model_root),
        "DJANGO_SETTINGS_MODULE": "grader.settings",
    }
    _purge_broker(broker_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "grader", "worker", "-Q", "grading,webhooks", "--concurrency", "1",
         "--pool", "prefork", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    _wait_for_line(process, "ready", timeout=60)
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def _purge_broker(broker_url: str) -> None:
    """Messages left by an earlier test would point at rows of a database that no longer exists."""
    import redis

    redis.Redis.from_url(broker_url).flushdb()


def _wait_for_line(process: subprocess.Popen, marker: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if marker in line:
            # Keep draining the pipe so the worker never blocks on a full stdout buffer.
            import threading

            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return
    raise RuntimeError("celery worker did not start:\n" + "".join(seen[-40:]))


def wait_until(predicate, *, timeout: float = 60.0, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def beat_started(db, monkeypatch):
    """What beat does when it starts: its DatabaseScheduler writes CELERY_BEAT_SCHEDULE over its rows."""
    from django_celery_beat import schedulers

    from grader.celery import app

    # Beat closes connections past their age before it reads (CONN_MAX_AGE 0: every one), which inside a test's
    # transaction would close the test's own.
    monkeypatch.setattr(schedulers, "close_old_connections", lambda: None)
    return schedulers.DatabaseScheduler(app=app)
