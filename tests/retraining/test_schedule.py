"""The retraining schedule lives in the database (django-celery-beat) and beat fires it on real Redis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from grader.models import TrainingRun
from grader.services.model_versions import hyperparameters_from_settings, model_retrain_dataset
from tests.conftest import _purge_broker, wait_until
from tests.retraining.conftest import subprocess_env
from training.dataset import dataset_sha256


# Not transactional: pytest-django runs these before any transactional test, whose flush would empty the tables.
@pytest.mark.django_db
def test_the_nightly_retrain_schedule_exists_after_migrate_on_the_training_queue():
    task = PeriodicTask.objects.get(name="Retrain the model on teachers' corrections")
    assert task.enabled
    assert task.task == "grader.tasks.retrain_model"
    assert task.queue == "training"
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "3", "*")


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
        queue="training",
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
