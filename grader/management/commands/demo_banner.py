from __future__ import annotations

import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand

from grader.management.commands.load_demo import DEMO_INTEGRATION, DEMO_PASSWORD, DEMO_TEACHER, demo_token_live
from grader.selectors import worker_heartbeat_latest


def boxed(lines: list[str]) -> str:
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


def wait_for_grading_worker(*, since: datetime, timeout: float, interval: float = 0.5) -> bool:
    """Whether a grading worker recorded a heartbeat at or after ``since`` within ``timeout`` seconds.

    The heartbeat comes once the worker is ready, after its start-up banner: a box printed afterwards stays last.
    """
    deadline = time.monotonic() + timeout
    while True:
        latest = worker_heartbeat_latest()
        if latest is not None and latest.last_seen_at >= since:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Command(BaseCommand):
    help = "Print the demo's admin URL, login and API token in a box (make run prints it once everything is up)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the web server listens.")
        parser.add_argument(
            "--wait-for-worker-since",
            type=float,
            metavar="UNIX_TIME",
            help="First wait (up to --wait-timeout seconds) for a grading worker started at or after this time.",
        )
        parser.add_argument("--wait-timeout", type=float, default=60.0, metavar="SECONDS")

    def handle(self, *args, url: str, wait_for_worker_since: float | None, wait_timeout: float, **options):
        worker_line = None
        if wait_for_worker_since is not None:
            since = datetime.fromtimestamp(wait_for_worker_since, tz=UTC)
            if not wait_for_grading_worker(since=since, timeout=wait_timeout):
                worker_line = f"The worker has not reported for {wait_timeout:.0f}s: answers wait until it does."
        url = url.rstrip("/")
        token = demo_token_live()
        token_line = (
            f"API token ({DEMO_INTEGRATION}): {token}"
            if token
            else "API token: none kept; `.venv/bin/python manage.py load_demo --demo-superuser` issues one"
        )
        lines = [
            "grader is running",
            "",
            f"admin:     {url}/admin/",
            f"login:     {DEMO_TEACHER} / {DEMO_PASSWORD}",
            f"API:       {url}/api/v1/",
            token_line,
            "",
            *([worker_line, ""] if worker_line else []),
            "Ctrl-C stops the web server, the worker and beat.",
        ]
        self.stdout.write(boxed(lines))
