"""docker-compose.yml cannot be started here (no Docker engine), so it is checked by reading it.

A mis-indented line once made the whole file unparseable; nothing else would have noticed before an operator did.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from grader.celery import app

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
# What every process of grader needs to find the others; a service that overrides `environment:` replaces the
# shared block as a whole (YAML merge keys are shallow), so it must repeat these.
SHARED_ENVIRONMENT = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "GRADER_MODEL_DIR")


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def grader_services(services: dict[str, dict]) -> dict[str, dict]:
    return {name: service for name, service in services.items() if service.get("image") == "grader:latest"}


def test_every_grader_service_gets_the_shared_environment(services: dict[str, dict]) -> None:
    grader = grader_services(services)
    assert {"init", "web", "worker", "beat"} <= grader.keys()
    reference = grader["web"]["environment"]
    for name, service in grader.items():
        environment = service.get("environment") or {}
        for variable in SHARED_ENVIRONMENT:
            assert environment.get(variable) == reference[variable], f"{name}: {variable}"


def celery_arguments(service: dict) -> list[str] | None:
    command = service.get("command")
    words = shlex.split(command) if isinstance(command, str) else list(command or [])
    return words if words[:3] == ["celery", "-A", "grader"] else None


def test_workers_consume_every_queue_a_task_is_sent_to(services: dict[str, dict]) -> None:
    consumed: set[str] = set()
    beats = 0
    for service in grader_services(services).values():
        words = celery_arguments(service)
        if words is None:
            continue
        if words[3] == "beat":
            beats += 1
        elif words[3] == "worker":
            consumed |= set(words[words.index("-Q") + 1].split(","))
    routed = {route["queue"] for route in app.conf.task_routes.values()} | {app.conf.task_default_queue}
    routed |= {task.queue for task in app.tasks.values() if getattr(task, "queue", None)}
    assert routed <= consumed
    assert beats == 1  # two beats would send every scheduled task twice
