"""Training runs: one at a time across machines, progress while training, an honest end for every run."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from grader.models import ModelVersion, TrainingRun

logger = logging.getLogger(__name__)

# pg_advisory_lock key: "grader retrain". Held by the training process's database session, so it is released
# when that process dies, whatever machine it ran on.
TRAINING_LOCK_KEY = 0x6772_6164_6572_7274


class TrainingAlreadyRunning(RuntimeError):
    """Another retrain holds the lock; the message says which run and how far it got."""


def _describe(run: TrainingRun | None) -> str:
    if run is None:
        return "another training run is in progress"
    progress = run.progress or {}
    step = f", step {progress['step']}/{progress['max_steps']}" if progress.get("step") is not None else ""
    return f"training run {run.pk} is in progress (started {run.started_at:%Y-%m-%d %H:%M:%S} UTC{step})"


@contextmanager
def training_lock() -> Iterator[None]:
    """Hold the cluster-wide retrain lock for the block, or raise TrainingAlreadyRunning at once.

    PostgreSQL: a session advisory lock. SQLite (embedded mode, one machine): the partial unique constraint on
    running rows is the lock, and a run silent for GRADER_TRAINING_STALE_SECONDS is taken to be dead.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [TRAINING_LOCK_KEY])
        acquired = cursor.fetchone()[0]
    if not acquired:
        raise TrainingAlreadyRunning(_describe(TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).first()))
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [TRAINING_LOCK_KEY])
        except DatabaseError:
            # The session is gone, and PostgreSQL released the lock with it; keep the original error visible.
            logger.warning("could not release the training lock; its session is gone", exc_info=True)


def training_runs_reap_dead() -> int:
    """Mark failed the running rows whose process is gone. Call only while holding training_lock()."""
    running = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING)
    if connection.vendor != "postgresql":
        stale_before = timezone.now() - timedelta(seconds=settings.GRADER_TRAINING_STALE_SECONDS)
        alive = running.filter(heartbeat_at__gte=stale_before).first()
        if alive is not None:
            raise TrainingAlreadyRunning(_describe(alive))
    # Holding the lock means no live process owns these rows: it died (killed, machine lost) mid-run.
    return running.update(
        status=TrainingRun.Status.FAILED,
        error="The training process stopped without finishing (killed, or lost its database connection); "
        "nothing it trained was recorded or activated.",
        finished_at=timezone.now(),
    )


def training_run_start(
    *,
    base: ModelVersion | None,
    trigger: str,
    hyperparameters: dict,
    dataset_size: int,
    train_size: int,
    held_out_size: int,
    dataset_sha256: str,
) -> TrainingRun:
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                base_version=base,
                trigger=trigger,
                hyperparameters=hyperparameters,
                dataset_size=dataset_size,
                train_size=train_size,
                held_out_size=held_out_size,
                dataset_sha256=dataset_sha256,
                heartbeat_at=timezone.now(),
            )
    except IntegrityError as error:  # the one_running_training_run constraint
        raise TrainingAlreadyRunning(
            _describe(TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).first())
        ) from error
    logger.info(
        "training run %s: fine-tuning %s on %d pairs (%d held out to judge it)",
        run.pk,
        base.name if base is not None else "the base model",
        train_size,
        held_out_size,
    )
    return run


def training_run_skip(
    *, base: ModelVersion | None, trigger: str, reason: str, dataset_size: int, dataset_sha256: str
) -> TrainingRun:
    now = timezone.now()
    return TrainingRun.objects.create(
        status=TrainingRun.Status.SKIPPED,
        base_version=base,
        trigger=trigger,
        reason=reason,
        dataset_size=dataset_size,
        dataset_sha256=dataset_sha256,
        finished_at=now,
    )


def training_run_fail(*, run: TrainingRun, error: BaseException, log: list[str]) -> None:
    TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
        status=TrainingRun.Status.FAILED, error=repr(error)[:5000], log="\n".join(log), finished_at=timezone.now()
    )


def training_run_previous_identical(
    *, base: ModelVersion | None, dataset_sha256: str, hyperparameters: dict
) -> TrainingRun | None:
    """A finished run on the same data and recipe that started from ``base`` or produced it: nothing is new."""
    same_lineage = Q(base_version=base) | Q(produced_version=base) if base is not None else Q(base_version=None)
    return (
        TrainingRun.objects.filter(
            same_lineage,
            status=TrainingRun.Status.SUCCEEDED,
            dataset_sha256=dataset_sha256,
            hyperparameters=hyperparameters,
        )
        .order_by("-started_at")
        .first()
    )


# A progress line in the log every this many percent of the training steps (20 lines a run, however long).
PROGRESS_LOG_PERCENT = 5


class ProgressRecorder:
    """Writes step, loss and ETA to the run, at most every GRADER_TRAINING_PROGRESS_SECONDS (and the last step),
    and logs a line every PROGRESS_LOG_PERCENT of the steps, so a terminal shows a training that moves."""

    def __init__(self, *, run: TrainingRun) -> None:
        self.run_id = run.pk
        self.interval = settings.GRADER_TRAINING_PROGRESS_SECONDS
        self._last_write = float("-inf")
        self._last_logged_percent = -PROGRESS_LOG_PERCENT
        self._logged_last_step = False

    def __call__(self, event: dict) -> None:
        now = time.monotonic()
        last_step = event.get("step") is not None and event.get("step") == event.get("max_steps")
        self._log(event, last_step=last_step)
        if now - self._last_write < self.interval and not last_step:
            return
        self._last_write = now
        TrainingRun.objects.filter(pk=self.run_id, status=TrainingRun.Status.RUNNING).update(
            progress=event, heartbeat_at=timezone.now()
        )

    def _log(self, event: dict, *, last_step: bool) -> None:
        step, max_steps = event.get("step"), event.get("max_steps")
        # The trainer reports the last step twice (its last loss, then the run's mean loss): say it once.
        if step is None or not max_steps or self._logged_last_step:
            return
        percent = 100 * step // max_steps
        if percent < self._last_logged_percent + PROGRESS_LOG_PERCENT and not last_step:
            return
        self._last_logged_percent = percent
        loss = event.get("loss")
        eta = event.get("eta_seconds")
        logger.info(
            "training run %s: step %d/%d (%d%%)%s%s",
            self.run_id,
            step,
            max_steps,
            percent,
            f", loss {loss:.4f}" if isinstance(loss, int | float) else "",
            f", about {eta:.0f} s left" if isinstance(eta, int | float) and not last_step else "",
        )
        if last_step:
            self._logged_last_step = True
            # What follows has no steps to count; said once so the pause does not look like a hang.
            logger.info(
                "training run %s: fine-tuning done; preparing the new version and judging it on the held-out answers",
                self.run_id,
            )


def training_runs_recover() -> int:
    """Mark failed the runs left ``running`` by a dead process, if no live process is training right now."""
    with training_lock():
        return training_runs_reap_dead()
