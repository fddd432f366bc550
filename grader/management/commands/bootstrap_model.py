from django.core.management.base import BaseCommand

from grader.services.model_versions import model_version_bootstrap


class Command(BaseCommand):
    help = "Create the first model version (base model fine-tuned on fixtures/seed_pairs.csv) if none is active."

    def handle(self, *args, **options):
        version = model_version_bootstrap()
        self.stdout.write(f"active model version: {version.name}")
