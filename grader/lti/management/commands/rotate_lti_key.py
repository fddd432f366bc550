from django.core.management.base import BaseCommand

from grader.lti.keys import tool_keys_rotate


class Command(BaseCommand):
    help = "Create a new LTI signing key; the old ones are retired but stay in the JWKS for a while."

    def handle(self, *args, **options):
        key = tool_keys_rotate()
        self.stdout.write(f"new LTI signing key: {key.kid}")
