"""A retrain that crashes or collides with another leaves the active model and every grade as they were."""

from __future__ import annotations

import os
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from grader.models import ModelVersion, Submission, TrainingRun
from grader.services import model_versions
from grader.services.model_versions import TrainingAlreadyRunning, model_retrain
from grader.services.training_runs import TRAINING_LOCK_KEY, ProgressRecorder, training_runs_recover
from tests.conftest import wait_until
from tests.retraining.conftest import database_url, grades_snapshot, subprocess_env

pytestmark = pytest.mark.finetune  # most of these fine-tune a model: the full lane only


def _lock_is_free() -> bool:
    """Asked from a separate session: a session may re-take its own advisory lock, which proves nothing."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        if other.execute("SELECT pg_try_advisory_lock(%s)", [TRAINING_LOCK_KEY]).fetchone()[0]:
            other.execute("SELECT pg_advisory_unlock(%s)", [TRAINING_LOCK_KEY])
            return True
        return False


@pytest.mark.django_db
def test_an_exception_mid_training_fails_the_run_and_leaves_model_and_grades_intact(
    corrected_course, base_model_version, fast_training, monkeypatch, model_root: Path
):
    class CrashAtStepTwo(ProgressRecorder):
        def __call__(self, event: dict) -> None:
            super().__call__(event)
            if event["step"] >= 2:
                raise RuntimeError("simulated crash at step 2")

    monkeypatch.setattr(model_versions, "ProgressRecorder", CrashAtStepTwo)
    before = grades_snapshot()

    with pytest.raises(RuntimeError, match="simulated crash"):
        model_retrain(trigger="test")

    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED
    assert "simulated crash at step 2" in run.error
    assert run.progress["step"] == 2 and run.finished_at is not None
    assert list(ModelVersion.objects.all()) == [base_model_version]
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version
    assert grades_snapshot() == before
    assert not (model_root / f"v{run.pk}").exists()
    assert _lock_is_free()


@pytest.mark.django_db(transaction=True)
def test_a_killed_training_process_leaves_model_and_grades_intact_and_its_run_is_marked_failed(
    demo_course, base_model_version, model_root: Path, spawn
):
    question = demo_course.questions.get(key="gradient-descent")
    for number, points in enumerate(["3.50", "1.00"]):
        Submission.objects.create(
            question=question,
            student_ref=f"s{number}",
            answer="An answer graded before the retrain.",
            status=Submission.Status.GRADED,
            similarity=0.6,
            points=Decimal(points),
            model_version=base_model_version,
            corrected_points=Decimal("4") if number else None,
        )
    before = grades_snapshot()
    env = subprocess_env(model_root, GRADER_TRAIN_EPOCHS="1", GRADER_TRAINING_PROGRESS_SECONDS="0")
    process = spawn(["manage.py", "retrain", "--force"], env)

    run = wait_until(
        lambda: TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, progress__step__gte=1).first(),
        timeout=900,
        interval=0.5,
    )
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING  # a killed process cannot say so itself
    # Its database session died with it, and with the session the lock: the next request finds the orphan.
    wait_until(_lock_is_free, timeout=30)
    assert training_runs_recover() == 1
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert "stopped without finishing" in run.error
    assert list(ModelVersion.objects.all()) == [base_model_version]
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version
    assert grades_snapshot() == before
    assert not (model_root / f"v{run.pk}").exists()


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_retrain_requests_one_runs_and_the_other_is_refused_with_the_reason(
    demo_course, base_model_version, model_root: Path, monkeypatch, spawn
):
    training = threading.Event()
    release = threading.Event()

    def fine_tune_until_released(**kwargs):
        training.set()
        release.wait(timeout=300)
        raise RuntimeError("stopped by the test")

    monkeypatch.setattr(model_versions, "fine_tune", fine_tune_until_released)
    outcome: dict[str, BaseException] = {}

    def first_request() -> None:
        try:
            model_retrain(trigger="first", force=True)  # no correction yet: forced, as the second request is
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            outcome["first"] = error
        finally:
            connection.close()

    first = threading.Thread(target=first_request)
    first.start()
    try:
        assert training.wait(timeout=300)
        running = TrainingRun.objects.get(status=TrainingRun.Status.RUNNING)
        # The second request from this process (another database session) ...
        with pytest.raises(TrainingAlreadyRunning, match=f"training run {running.pk} is in progress"):
            model_retrain(trigger="second")
        # ... and from another process, as a second machine would.
        second = spawn(["manage.py", "retrain", "--force"], subprocess_env(model_root))
        output, _ = second.communicate(timeout=300)
        assert second.returncode != 0
        assert f"training run {running.pk} is in progress" in output
    finally:
        release.set()
        first.join(timeout=300)
    assert "stopped by the test" in str(outcome["first"])
    assert TrainingRun.objects.filter(trigger="second").count() == 0
    assert TrainingRun.objects.get(pk=running.pk).status == TrainingRun.Status.FAILED
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version


@pytest.mark.django_db
def test_the_database_refuses_a_second_running_row(base_model_version):
    from grader.services.training_runs import training_run_start

    arguments = {
        "base": base_model_version,
        "trigger": "test",
        "hyperparameters": {},
        "dataset_size": 1,
        "train_size": 1,
        "held_out_size": 0,
        "dataset_sha256": "x",
    }
    first = training_run_start(**arguments)
    with pytest.raises(TrainingAlreadyRunning, match=f"training run {first.pk} is in progress"):
        training_run_start(**arguments)


@pytest.mark.django_db
def test_the_next_retrain_removes_a_model_directory_a_killed_run_stored_but_never_recorded(
    base_model_version, monkeypatch, model_root: Path
):
    orphan = model_root / "v990001"  # a run killed between storing its model and recording the version
    orphan.mkdir()
    (orphan / "model.safetensors").write_bytes(b"half")
    an_hour_ago = time.time() - 2 * 3600
    for path in (orphan / "model.safetensors", orphan):
        os.utime(path, (an_hour_ago, an_hour_ago))

    def stop_before_training(**kwargs):
        raise RuntimeError("stopped before training")

    monkeypatch.setattr(model_versions, "_train_evaluate_decide", stop_before_training)
    with pytest.raises(RuntimeError, match="stopped before training"):
        model_retrain(trigger="test", force=True)

    assert not orphan.exists()
    assert (model_root / base_model_version.artifact_path).is_dir()
