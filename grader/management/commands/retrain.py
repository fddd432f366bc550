from django.core.management.base import BaseCommand, CommandError

from grader.services.model_versions import NoActiveModelVersion, TrainingAlreadyRunning, model_retrain


class Command(BaseCommand):
    help = "Fine-tune the active model on teachers' corrections plus the seed pairs and activate the result."

    def handle(self, *args, **options):
        try:
            version = model_retrain()
        except (NoActiveModelVersion, TrainingAlreadyRunning) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"trained {version.name} from {version.parent.name}; it is now active")
