"""The retraining schedule: settings state it, beat writes it into its database rows at start and fires it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from grader.celery import app
from grader.models import TrainingRun
from grader.services.model_versions import hyperparameters_from_settings, model_retrain_dataset
from tests.conftest import _purge_broker, wait_until
from tests.retraining.conftest import subprocess_env
from training.dataset import dataset_sha256

RETRAIN = "Retrain the model on teachers' corrections"


def test_beat_writes_the_nightly_retrain_into_its_rows_when_it_starts(beat_started):
    task = PeriodicTask.objects.get(name=RETRAIN)
    assert task.enabled
    assert task.task == "grader.tasks.retrain_model"
    assert task.queue is None  # CELERY_TASK_ROUTES sends it to the training queue
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "3", "*")


@pytest.mark.django_db(transaction=True)
def test_a_changed_retrain_crontab_takes_effect_when_beat_starts_again(model_root: Path, spawn):
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://... (make test sets it)")
    # The rows as beat left them under the default crontab; an operator has paused the sweeper meanwhile.
    DatabaseScheduler(app=app)
    assert PeriodicTask.objects.get(name=RETRAIN).crontab.hour == "3"
    PeriodicTask.objects.filter(task="grader.tasks.requeue_stale_submissions").update(enabled=False)

    env = subprocess_env(model_root, CELERY_BROKER_URL=broker_url, GRADER_RETRAIN_CRONTAB="30 1 * * 1")
    beat = spawn(["-m", "celery", "-A", "grader", "beat", "--loglevel", "INFO", "--pidfile="], env)

    retrain = wait_until(
        lambda: PeriodicTask.objects.filter(name=RETRAIN, crontab__hour="1").select_related("crontab").first(),
        timeout=120,
        interval=0.5,
    )
    assert beat.poll() is None
    assert (retrain.crontab.minute, retrain.crontab.hour, retrain.crontab.day_of_week) == ("30", "1", "1")
    assert not PeriodicTask.objects.get(task="grader.tasks.requeue_stale_submissions").enabled


@pytest.mark.django_db(transaction=True)
def test_beat_fires_the_retrain_task_on_a_short_interval_and_a_training_worker_runs_it(
    demo_course, base_model_version, model_root: Path, spawn
):
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not broker_url.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://... (make test sets it)")
    _purge_broker(broker_url)
    # The active version was already trained on today's data: the fired task records a skipped run at once,
    # which shows it went through beat, Redis, the training worker and the retrain service.
    pairs = model_retrain_dataset()
    previous = TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED,
        base_version=base_model_version,
        dataset_sha256=dataset_sha256(pairs),
        hyperparameters=hyperparameters_from_settings().as_dict(),
    )
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="test: retrain every second",
        task="grader.tasks.retrain_model",
        interval=every_second,
        kwargs='{"trigger": "beat-test"}',
    )
    env = subprocess_env(model_root, CELERY_BROKER_URL=broker_url)
    worker_args = ["-m", "celery", "-A", "grader", "worker", "-Q", "training", "--concurrency", "1"]
    spawn([*worker_args, "--without-gossip", "--without-mingle", "--without-heartbeat"], env)
    spawn(["-m", "celery", "-A", "grader", "beat", "--loglevel", "INFO"], env)

    fired = wait_until(
        lambda: TrainingRun.objects.filter(trigger="beat-test", status=TrainingRun.Status.SKIPPED).first(),
        timeout=300,
        interval=1,
    )
    assert f"Nothing new since training run {previous.pk}" in fired.reason
