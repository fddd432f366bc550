from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from grader.models import Integration
from grader.services.courses import course_load_json
from grader.services.integrations import integration_create, integration_holds_token, integration_rotate_token

DEMO_TEACHER = "teacher"
DEMO_PASSWORD = "grader-demo"  # noqa: S105 - the documented demo login, embedded mode only
DEMO_INTEGRATION = "demo-lms"


def demo_token_saved() -> str | None:
    """The demo token `load_demo` kept, if its file exists."""
    path = Path(settings.GRADER_DEMO_TOKEN_FILE)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def demo_token_live() -> str | None:
    """The kept demo token if the demo integration still accepts it (not rotated or revoked since)."""
    token = demo_token_saved()
    integration = Integration.objects.filter(name=DEMO_INTEGRATION).first()
    if token is None or integration is None or not integration_holds_token(integration=integration, token=token):
        return None
    return token


def _save_demo_token(token: str) -> None:
    path = Path(settings.GRADER_DEMO_TOKEN_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created owner-only before the token is written, so it is never readable by others, even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")


class Command(BaseCommand):
    help = "Load the demo course, a demo teacher (superuser) and a demo LMS integration; print how to log in."

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo-superuser",
            action="store_true",
            help=f"Create the superuser {DEMO_TEACHER} / {DEMO_PASSWORD} even with DEBUG off (make run does).",
        )

    def handle(self, *args, **options):
        user_model = get_user_model()
        teacher = user_model.objects.filter(username=DEMO_TEACHER).first()
        if teacher is None and not (settings.DEBUG or options["demo_superuser"]):
            # A superuser with a published password must never appear on a deployment by accident.
            raise CommandError(
                f"Refusing to create the superuser {DEMO_TEACHER!r} with the published demo password: "
                "set DJANGO_DEBUG=1 or pass --demo-superuser (for a demo on your own machine only)."
            )
        course = course_load_json(path=settings.BASE_DIR / "fixtures" / "demo_course.json")
        if teacher is None:
            teacher = user_model.objects.create_superuser(DEMO_TEACHER, "teacher@example.com", DEMO_PASSWORD)
        course.teachers.add(teacher)
        integration = Integration.objects.filter(name=DEMO_INTEGRATION).first()
        if integration is None:
            integration, token = integration_create(name=DEMO_INTEGRATION, courses=[course])
            _save_demo_token(token)
        else:
            # The database holds only a hash: the token kept on disk is shown again while it still works, so a
            # second run does not break an LMS (or a shell) that uses it. Lost, rotated or revoked: a new one.
            token = demo_token_live()
            if token is None:
                token = integration_rotate_token(integration=integration)
                _save_demo_token(token)
        self.stdout.write(f"demo course {course.code}: {course.questions.count()} questions")
        self.stdout.write(f"teacher login: {DEMO_TEACHER} / {DEMO_PASSWORD}")
        self.stdout.write(f"API token ({DEMO_INTEGRATION}): {token}")
