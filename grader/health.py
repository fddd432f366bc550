"""Health endpoints for load balancers and orchestrators; the only URLs besides the admin login open to anyone.

- ``/healthz`` (liveness): the process answers HTTP. It checks nothing else on purpose: a liveness probe that
  fails when the database is down would restart every web process during a database outage.
- ``/readyz`` (readiness): this deployment can accept and grade answers: the database answers, the broker
  accepts connections, a grading worker has sent a heartbeat recently, and an active model version with its artifact
  exists. 503 otherwise. The body names the failing checks but never says why (that goes to the log), so an
  anonymous caller learns nothing about the deployment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from grader.db import database_now
from grader.selectors import model_version_active, worker_heartbeat_latest

logger = logging.getLogger(__name__)


def check_database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def check_broker() -> bool:
    from grader.celery import app

    with app.connection_for_write() as conn:
        # One attempt with a short timeout: a probe must answer quickly, and its caller retries.
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
        return True


def check_worker_heartbeat() -> bool:
    latest = worker_heartbeat_latest()
    max_age = timedelta(seconds=settings.GRADER_WORKER_HEARTBEAT_MAX_AGE)
    return latest is not None and database_now() - latest.last_seen_at <= max_age  # the clock heartbeats carry


def check_active_model() -> bool:
    version = model_version_active()
    if version is None:
        return False
    artifact = Path(settings.GRADER_MODEL_DIR) / version.artifact_path
    return (artifact / "config.json").is_file()


READINESS_CHECKS: dict[str, Callable[[], bool]] = {
    "database": check_database,
    "broker": check_broker,
    "worker_heartbeat": check_worker_heartbeat,
    "active_model": check_active_model,
}


def _run(name: str, check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:  # a probe reports every failure as "not ready"; the log keeps the cause
        logger.warning("readiness check %s failed", name, exc_info=True)
        return False


@never_cache
@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    results = {name: _run(name, check) for name, check in READINESS_CHECKS.items()}
    ready = all(results.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {k: "ok" if v else "fail" for k, v in results.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
