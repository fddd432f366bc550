"""`make run`'s last step, scripts/run.sh, as a newcomer meets it: embedded mode (SQLite, filesystem broker).

The login box comes after the services' start-up output, and Ctrl-C or SIGTERM stops web, worker and beat
without escalating to a cold shutdown or SIGKILL.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.executable).parent.parent
SERVICE_ENVIRONMENT = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "GRADER_MODEL_DIR", "GRADER_DEMO_TOKEN_FILE")


@pytest.fixture(scope="module")
def embedded_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What `make run` sees on a laptop: no servers configured, everything under a var directory; demo loaded."""
    environment = {key: value for key, value in os.environ.items() if key not in SERVICE_ENVIRONMENT}
    environment.update(
        {"GRADER_VAR_DIR": str(tmp_path_factory.mktemp("var")), "DJANGO_SETTINGS_MODULE": "grader.settings"}
    )
    for command in (["migrate", "--noinput"], ["load_demo", "--demo-superuser"]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=environment, check=True, capture_output=True
        )
    return environment


class Run:
    """scripts/run.sh in its own session, as a terminal's foreground job (SIGINT at its default)."""

    def __init__(self, environment: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env={**environment, "VENV": str(VENV), "PORT": str(self.port)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_foreground_job,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_box(self, timeout: float = 180) -> int:
        """The index of the box's closing rule."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            rules = [index for index, line in enumerate(self.lines) if re.fullmatch(r"\+-+\+", line)]
            if len(rules) >= 2:
                return rules[1]
            time.sleep(0.2)
        raise AssertionError("no login box:\n" + "\n".join(self.lines[-60:]))

    def signal_group(self, signum: int) -> None:
        os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def _foreground_job() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setsid()


def _group_gone(pgid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def run(embedded_environment: dict[str, str]) -> Iterator[Run]:
    started = Run(embedded_environment)
    yield started
    started.stop()


def _first(lines: list[str], pattern: str) -> int:
    return next(index for index, line in enumerate(lines) if re.search(pattern, line))


def test_the_login_box_comes_after_the_start_up_output_and_sigterm_stops_everything(run: Run) -> None:
    closing = run.wait_for_box()
    lines = list(run.lines)
    box = "\n".join(lines[: closing + 1])
    assert f"http://127.0.0.1:{run.port}/admin/" in box
    assert "teacher / grader-demo" in box
    assert re.search(r"API token \(demo-lms\): grd_\S+", box)
    for started in (r"celery@\S+ ready\.", r"Listening at: http://127\.0\.0\.1", r"celery beat v\S+ .* is starting"):
        assert _first(lines, started) < closing, started

    run.process.send_signal(signal.SIGTERM)  # to run.sh alone, as a process supervisor would
    assert run.process.wait(timeout=90) == 143
    assert _group_gone(run.process.pid), "a service outlived run.sh"
    output = "\n".join(run.lines)
    assert "stopping web, worker and beat" in output
    assert "still running after" not in output and "a service exited" not in output


def test_ctrl_c_stops_web_worker_and_beat(run: Run) -> None:
    run.wait_for_box()
    run.signal_group(signal.SIGINT)  # what the terminal sends to the whole foreground job
    assert run.process.wait(timeout=90) == 130
    assert _group_gone(run.process.pid), "a service outlived run.sh"
    output = "\n".join(run.lines)
    assert "still running after" not in output and "a service exited" not in output
