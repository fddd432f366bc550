from django.core.management.base import BaseCommand, CommandError

from grader.models import Course
from grader.services.integrations import integration_create


class Command(BaseCommand):
    help = "Create an LMS integration and print its API token (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--course", action="append", default=[], help="Course code this integration may use.")

    def handle(self, *args, name: str, course: list[str], **options):
        courses = list(Course.objects.filter(code__in=course))
        missing = set(course) - {c.code for c in courses}
        if missing:
            raise CommandError(f"unknown course code(s): {', '.join(sorted(missing))}")
        _, token = integration_create(name=name, courses=courses)
        self.stdout.write(token)
