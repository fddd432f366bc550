from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from grader.models import Integration
from grader.services.courses import course_load_json
from grader.services.integrations import integration_create, integration_rotate_token

DEMO_TEACHER = "teacher"
DEMO_PASSWORD = "grader-demo"  # noqa: S105 - the documented demo login, embedded mode only


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
        integration = Integration.objects.filter(name="demo-lms").first()
        if integration is None:
            integration, token = integration_create(name="demo-lms", courses=[course])
        else:
            # Only a hash is stored, so the demo token is rotated to be shown again.
            token = integration_rotate_token(integration=integration)
        self.stdout.write(f"demo course {course.code}: {course.questions.count()} questions")
        self.stdout.write(f"teacher login: {DEMO_TEACHER} / {DEMO_PASSWORD}")
        self.stdout.write(f"API token (demo-lms): {token}")
