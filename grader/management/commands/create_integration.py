from django.core.management.base import BaseCommand, CommandError

from grader.models import Course, IntegrationScope
from grader.services.integrations import integration_create


class Command(BaseCommand):
    help = "Create an LMS integration and print its API token (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--course", action="append", default=[], help="Course code this integration may use.")
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            choices=IntegrationScope.values,
            help="Extra right, e.g. corrections:write (record teacher corrections through the API).",
        )

    def handle(self, *args, name: str, course: list[str], scope: list[str], **options):
        courses = list(Course.objects.filter(code__in=course))
        missing = set(course) - {c.code for c in courses}
        if missing:
            raise CommandError(f"unknown course code(s): {', '.join(sorted(missing))}")
        if len(courses) > len(set(course)):
            # Codes are unique per integration only: two schools may each have a course with this code.
            shared = sorted({c.code for c in courses if sum(other.code == c.code for other in courses) > 1})
            raise CommandError(f"course code(s) {', '.join(shared)} name several courses; add them in the admin")
        _, token = integration_create(name=name, courses=courses, scopes=scope)
        self.stdout.write(token)
