from django.core.management.base import BaseCommand, CommandError

from grader.models import TrainingRun
from grader.services.model_versions import NoActiveModelVersion, TrainingAlreadyRunning, model_retrain


class Command(BaseCommand):
    help = (
        "Fine-tune the active model on teachers' corrections plus the seed pairs; the result becomes active only "
        "if it beats the active version on the held-out set."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Train even if nothing (or fewer than GRADER_RETRAIN_MIN_NEW_CORRECTIONS corrections) is new since "
            "the last run; the gate still decides whether the result becomes active.",
        )

    def handle(self, *args, force: bool = False, **options):
        try:
            run = model_retrain(trigger="command", force=force)
        except (NoActiveModelVersion, TrainingAlreadyRunning) as error:
            raise CommandError(str(error)) from error
        if run.status == TrainingRun.Status.SKIPPED:
            self.stdout.write(f"training run {run.pk} skipped: {run.reason}")
            return
        version = run.produced_version
        self.stdout.write(f"training run {run.pk} trained {version.name} from {version.parent.name}: {run.reason}")
