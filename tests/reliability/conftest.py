"""Real processes for fault and load tests: celery workers, beat, gunicorn, a private redis-server, manage.py.

Every process reads and writes pytest-django's test database (the tests use ``transactional_db`` so committed
rows are visible to them), logs to a file the test can read, and runs in its own session so a test can SIGKILL a
whole worker (main process and pool) at once. Everything still running is stopped when the test ends.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import PROJECT_DIR, wait_until

# A private redis-server for tests that stop the broker. Never the shared one on 6379: other suites use it.
PRIVATE_REDIS_PORT = int(os.environ.get("GRADER_TEST_PRIVATE_REDIS_PORT", "6390"))


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Signal the process and everything it started (a worker's pool processes)."""
        os.killpg(self.popen.pid, sig)
        self.popen.wait(timeout=30)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []


@pytest.fixture
def graded_outbox(demo_course) -> None:
    """An LMS listening for grades of the demo course, so every grade written leaves a countable row.

    A grade and its ``submission.graded`` webhook delivery are committed in one transaction (the outbox), so
    their number is the number of grades written, including one committed just before a SIGKILL: a log line
    written after the commit would be missing for it. No webhooks worker runs, so nothing is sent anywhere.
    """
    from grader.models import WebhookEndpoint
    from grader.services.integrations import integration_create

    integration, _ = integration_create(name="grades-outbox", courses=[demo_course])
    WebhookEndpoint.objects.create(integration=integration, url="https://lms.example.edu/grades", secret="s" * 32)


def grades_written(submission_id: int) -> int:
    from grader.models import WebhookDelivery

    return WebhookDelivery.objects.filter(submission_id=submission_id, event_type="submission.graded").count()


def assert_graded_once(submission_id: int) -> None:
    """Needs the graded_outbox fixture."""
    assert grades_written(submission_id) == 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Launcher:
    database_url: str
    model_root: Path
    log_dir: Path
    started: list[Process] = field(default_factory=list)

    def env(self, broker_url: str, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": broker_url,
            "GRADER_MODEL_DIR": str(self.model_root),
            "DJANGO_SETTINGS_MODULE": "grader.settings",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log_path = self.log_dir / f"{name}-{len(self.started)}.log"
        popen = subprocess.Popen(
            args,
            cwd=PROJECT_DIR,
            env=env,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name=name, popen=popen, log_path=log_path)
        self.started.append(process)
        return process

    def redis(self, port: int = PRIVATE_REDIS_PORT) -> Process:
        process = self.start(
            "redis",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            os.environ.copy(),
        )
        wait_until(lambda: _redis_answers(port), timeout=15, interval=0.1)
        return process

    def worker(self, broker_url: str, *, queues: str = "grading", concurrency: int = 1, **extra: str) -> Process:
        name = f"worker{len(self.started)}"
        process = self.start(
            name,
            [sys.executable, "-m", "celery", "-A", "grader", "worker", "-Q", queues, "-n", f"{name}@%h",
             "--concurrency", str(concurrency), "--pool", "prefork", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle"],
            self.env(broker_url, **extra),
        )  # fmt: skip
        wait_until(lambda: " ready." in process.log() or not process.alive(), timeout=90)
        assert process.alive(), process.log()[-3000:]
        return process

    def beat(self, broker_url: str, **extra: str) -> Process:
        return self.start(
            "beat",
            [sys.executable, "-m", "celery", "-A", "grader", "beat", "--loglevel", "INFO", "--pidfile=",
             "--max-interval", "1"],
            self.env(broker_url, **extra),
        )  # fmt: skip

    def gunicorn(self, broker_url: str, *, workers: int = 2, threads: int = 4, **extra: str) -> str:
        port = free_port()
        process = self.start(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "grader.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--threads", str(threads), "--timeout", "60"],
            self.env(broker_url, **extra),
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _http_ok(f"{url}/healthz") or not process.alive(), timeout=60)
        assert process.alive(), process.log()[-3000:]
        return url

    def manage(self, *args: str, broker_url: str, **extra: str) -> Process:
        return self.start("manage", [sys.executable, "manage.py", *args], self.env(broker_url, **extra))

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.alive():
                try:
                    os.killpg(process.popen.pid, signal.SIGTERM)
                    process.popen.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    _kill_quietly(process)
            _kill_quietly(process)  # pool processes a SIGTERMed worker may leave behind


def _kill_quietly(process: Process) -> None:
    try:
        os.killpg(process.popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _redis_answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def launcher(transactional_db, model_root: Path, tmp_path: Path) -> Iterator[Launcher]:
    from django.db import connection

    database = connection.settings_dict
    database_url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    launched = Launcher(database_url=database_url, model_root=model_root, log_dir=tmp_path)
    yield launched
    launched.stop_all()


@pytest.fixture
def shared_broker_url() -> str:
    """This suite's database index on the shared Redis (CELERY_BROKER_URL), emptied first."""
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://... (make test sets it)")
    redis.Redis.from_url(broker_url).flushdb()
    return broker_url


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster of the test's own, which a test may stop and start: never the shared one."""

    bin_dir: Path
    data_dir: Path
    port: int
    run_as: list[str]  # initdb and postgres refuse to run as root: then they run as the postgres user

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/grader"

    def pg_ctl(self, *args: str) -> None:
        command = [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=90)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} -c fsync=off"
        self.pg_ctl("-o", options, "-l", str(self.data_dir / "server.log"), "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")


def _postgres_bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # pg_ctl and createdb sit beside the real initdb
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))  # Debian keeps them off PATH
    return Path(candidates[-1]).parent if candidates else None


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("needs the PostgreSQL server binaries (initdb, pg_ctl)")
    run_as: list[str] = []
    data_dir = Path(tempfile.mkdtemp(prefix="grader-private-pg-"))
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start a private PostgreSQL")
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(data_dir, "postgres")
    cluster = PrivatePostgres(bin_dir=bin_dir, data_dir=data_dir / "data", port=free_port(), run_as=run_as)
    subprocess.run(
        [*run_as, str(bin_dir / "initdb"), "-D", str(cluster.data_dir), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster.start()
    try:
        server = ["--host=127.0.0.1", f"--port={cluster.port}", "--username=postgres"]
        subprocess.run(
            [*run_as, str(bin_dir / "createdb"), *server, "grader"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield cluster
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped by the test
        shutil.rmtree(data_dir, ignore_errors=True)


def sweep_every_second() -> None:
    """Beat's schedule for these tests: the sweeper every second instead of every minute."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name="test: sweep every second",
        defaults={"task": "grader.tasks.requeue_stale_submissions", "interval": every_second},
    )


def wait_for_status(submission_id: int, status: str, *, timeout: float = 90, interval: float = 0.05):
    from grader.models import Submission

    return wait_until(
        lambda: Submission.objects.filter(pk=submission_id, status=status).first(), timeout=timeout, interval=interval
    )


def elapsed_since(start: float) -> float:
    return time.monotonic() - start


# About 256 tokens, the model's limit: the longest an answer can take to encode.
LONG_ANSWER = " ".join(
    ["The gradient points uphill, so each step moves the weights against it by the learning rate."] * 16
)


def submit_with_companions(question, answer: str, *, companions: int = 12):
    """Queue ``answer`` with ``companions`` long answers in one transaction, so one claim takes them all.

    A test that acts while a submission is ``grading`` needs that state to last: encoding the companions keeps
    the claim open for about 0.6 s on a fast CPU (12 long answers, one torch thread), and longer on a slower one,
    without a test hook in the grading code. One short answer alone is graded within ~60 ms of its claim, which
    a 50 ms poll can miss. Returns the submission of ``answer``.
    """
    from grader.services.submissions import submissions_create_many

    items = [{"question": question, "student_ref": "s-1", "answer": answer}]
    items += [
        {"question": question, "student_ref": f"companion-{i}", "answer": f"{i}. {LONG_ANSWER}"}
        for i in range(companions)
    ]
    [(submission, created), *_] = submissions_create_many(integration=None, items=items)
    assert created
    return submission
