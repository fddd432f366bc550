from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from grader.models import Integration
from grader.services.courses import course_load_json
from grader.services.integrations import integration_create, integration_rotate_token

DEMO_TEACHER = "teacher"
DEMO_PASSWORD = "grader-demo"  # noqa: S105 - the documented demo login, embedded mode only


class Command(BaseCommand):
    help = "Load the demo course, a demo teacher (superuser) and a demo LMS integration; print how to log in."

    def handle(self, *args, **options):
        course = course_load_json(path=settings.BASE_DIR / "fixtures" / "demo_course.json")
        user_model = get_user_model()
        teacher = user_model.objects.filter(username=DEMO_TEACHER).first()
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
