from __future__ import annotations

from django.core.management.base import BaseCommand

from grader.management.commands.load_demo import DEMO_INTEGRATION, DEMO_PASSWORD, DEMO_TEACHER, demo_token_live


def boxed(lines: list[str]) -> str:
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


class Command(BaseCommand):
    help = "Print the demo's admin URL, login and API token in a box (make run prints it once everything is up)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the web server listens.")

    def handle(self, *args, url: str, **options):
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
            "Ctrl-C stops the web server, the worker and beat.",
        ]
        self.stdout.write(boxed(lines))
