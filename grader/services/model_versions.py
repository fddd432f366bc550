"""Model versions: the first one, retraining from teachers' corrections, promotion, and loading for grading."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from grader.models import Correction, ModelVersion, Submission, TrainingRun
from grader.scoring.encoder import Encoder, base_model_path, load_encoder
from grader.selectors import model_version_active
from training.dataset import Pair, build_training_set, dataset_sha256, load_pairs_csv
from training.finetune import FineTuneResult, Hyperparameters, fine_tune

logger = logging.getLogger(__name__)


class NoActiveModelVersion(RuntimeError):
    """Grading cannot start before the first model version exists (``manage.py bootstrap_model``)."""


class TrainingAlreadyRunning(RuntimeError):
    pass


def artifact_dir(version: ModelVersion) -> Path:
    return Path(settings.GRADER_MODEL_DIR) / version.artifact_path


def encoder_for_active_version() -> tuple[ModelVersion, Encoder]:
    """The active version and its encoder. One indexed query per call, so a promotion is seen at once."""
    version = model_version_active()
    if version is None:
        raise NoActiveModelVersion("no active model version; run `python manage.py bootstrap_model`")
    return version, load_encoder(path=artifact_dir(version), version_id=version.pk)


def hyperparameters_from_settings() -> Hyperparameters:
    return Hyperparameters(
        batch_size=settings.GRADER_TRAIN_BATCH_SIZE,
        epochs=settings.GRADER_TRAIN_EPOCHS,
        learning_rate=settings.GRADER_TRAIN_LEARNING_RATE,
        seed=settings.GRADER_TRAIN_SEED,
    )


def correction_pairs() -> list[Pair]:
    """One pair per corrected submission: (answer, the reference it was graded against, latest points / max)."""
    latest = Correction.objects.filter(submission=OuterRef("pk")).order_by("-created_at", "-pk")
    submissions = (
        Submission.objects.filter(corrections__isnull=False)
        .annotate(latest_points=Subquery(latest.values("points")[:1]))
        .select_related("question", "best_reference")
        .prefetch_related("question__reference_answers")
        .distinct()
    )
    pairs = []
    for submission in submissions:
        reference = submission.best_reference or submission.question.reference_answers.all()[0]
        label = float(submission.latest_points / submission.question.max_points)
        pairs.append(Pair(submission.answer, reference.text, min(1.0, max(0.0, label))))
    return pairs


def model_version_bootstrap() -> ModelVersion:
    """The first version: the packaged base model fine-tuned on the seed pairs. Does nothing if one is active."""
    active = model_version_active()
    if active is not None:
        return active
    seed = load_pairs_csv(settings.GRADER_SEED_PAIRS)
    return _train_and_promote(base=None, pairs=build_training_set(corrections=[], seed_pairs=seed))


def model_retrain(*, hyperparameters: Hyperparameters | None = None) -> ModelVersion:
    """Fine-tune the active version on every correction plus the seed pairs, and make the result active."""
    active = model_version_active()
    if active is None:
        raise NoActiveModelVersion("nothing to retrain; run `python manage.py bootstrap_model` first")
    pairs = build_training_set(corrections=correction_pairs(), seed_pairs=load_pairs_csv(settings.GRADER_SEED_PAIRS))
    return _train_and_promote(base=active, pairs=pairs, hyperparameters=hyperparameters)


def _train_and_promote(
    *, base: ModelVersion | None, pairs: list[Pair], hyperparameters: Hyperparameters | None = None
) -> ModelVersion:
    hyperparameters = hyperparameters or hyperparameters_from_settings()
    with transaction.atomic():
        if TrainingRun.objects.select_for_update().filter(status=TrainingRun.Status.RUNNING).exists():
            raise TrainingAlreadyRunning("another training run is in progress")
        run = TrainingRun.objects.create(
            base_version=base,
            hyperparameters=hyperparameters.as_dict(),
            dataset_size=len(pairs),
            dataset_sha256=dataset_sha256(pairs),
        )
    name = f"v{run.pk}"
    output_dir = Path(settings.GRADER_MODEL_DIR) / name
    base_dir = artifact_dir(base) if base is not None else base_model_path()
    try:
        result = fine_tune(base_model_dir=base_dir, pairs=pairs, output_dir=output_dir, hyperparameters=hyperparameters)
    except BaseException as error:
        # BaseException: a soft time limit or Ctrl-C must also leave the run marked failed and no half artifact.
        shutil.rmtree(output_dir, ignore_errors=True)
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.FAILED, error=repr(error), finished_at=timezone.now()
        )
        raise
    return _record_and_promote(run=run, base=base, name=name, result=result)


@transaction.atomic
def _record_and_promote(
    *, run: TrainingRun, base: ModelVersion | None, name: str, result: FineTuneResult
) -> ModelVersion:
    version = ModelVersion.objects.create(
        name=name,
        parent=base,
        artifact_path=name,
        sha256=result.sha256,
        model_card=result.model_card,
        metrics={"train_loss": result.train_loss, "steps": result.steps, "seconds": result.seconds},
    )
    model_version_activate(version=version)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED,
        produced_version=version,
        metrics=version.metrics,
        log="\n".join(result.log),
        finished_at=timezone.now(),
    )
    logger.info("model version %s trained on %s pairs and activated", name, run.dataset_size)
    version.refresh_from_db()
    return version


@transaction.atomic
def model_version_activate(*, version: ModelVersion) -> None:
    """Make ``version`` the one that grades; the previous active version is retired in the same transaction."""
    ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE).exclude(pk=version.pk).update(
        status=ModelVersion.Status.RETIRED
    )
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.ACTIVE, activated_at=timezone.now())
