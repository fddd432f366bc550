"""Retraining SIGKILLed midway (`manage.py retrain` in its own process): the active model and every grade stay
as they were, and the active model's artifact is untouched.
"""

import os
import shutil
import signal
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from grader.models import Correction, ModelVersion, Submission, TrainingRun
from grader.services.model_artifacts import model_artifacts_remove_orphans
from grader.services.submissions import correction_create
from tests.conftest import wait_until
from training.finetune import directory_sha256

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def test_retrain_killed_midway_leaves_the_active_model_and_grades_intact(
    launcher, shared_broker_url, base_model_version, gradient_descent_question, tmp_path
):
    graded = [
        Submission.objects.create(
            question=gradient_descent_question,
            student_ref=f"s-{index}",
            answer=f"answer {index}",
            status=Submission.Status.GRADED,
            similarity=0.5,
            points=Decimal("2.50"),
            model_version=base_model_version,
        )
        for index in range(3)
    ]
    teacher = get_user_model().objects.create_user("teacher", is_staff=True)
    correction_create(submission=graded[0], teacher=teacher, points=Decimal("4"), comment="Better than that.")
    before = grades(graded)

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    retrain = launcher.manage("retrain", "--force", broker_url=shared_broker_url, TMPDIR=str(scratch))
    run = wait_until(lambda: TrainingRun.objects.first(), timeout=120)
    # training/finetune.py opens its scratch directory right before the trainer starts its steps.
    wait_until(lambda: any(scratch.glob("grader-train-*")) or not retrain.alive(), timeout=120)
    time.sleep(1)
    assert retrain.alive(), "retraining finished before it could be killed:\n" + retrain.log()[-2000:]
    retrain.kill_group(signal.SIGKILL)
    assert retrain.popen.returncode == -signal.SIGKILL

    active = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    assert active == base_model_version
    assert ModelVersion.objects.count() == 1, "a half-trained version was recorded"
    assert directory_sha256(Path(settings.GRADER_MODEL_DIR) / active.artifact_path) == active.sha256
    assert grades(graded) == before
    assert Correction.objects.get().points == Decimal("4")
    # SIGKILL leaves no chance to record the failure: the run stays "running" until the next run finds it dead.
    run.refresh_from_db()
    assert run.produced_version is None


def grades(submissions: list[Submission]) -> dict:
    rows = Submission.objects.filter(pk__in=[submission.pk for submission in submissions])
    return {row.pk: (row.status, row.points, row.corrected_points, row.model_version_id) for row in rows}


def test_a_retrain_killed_while_storing_its_model_leaves_no_half_written_version(
    launcher, shared_broker_url, base_model_artifact, model_root, tmp_path, settings
):
    # A model as training leaves it, padded so that copying it into the store takes a while to kill in.
    trained = tmp_path / "trained"
    shutil.copytree(model_root / base_model_artifact, trained)
    with open(trained / "padding.bin", "wb") as padding:
        padding.truncate(768 << 20)  # sparse: instant to make, slow to copy
    store = tmp_path / "store"  # a store of its own: the session's model directory is shared by every test
    store.mkdir()
    code = (
        "from pathlib import Path; from grader.services.model_artifacts import model_artifact_store; "
        f"model_artifact_store(local_dir=Path({str(trained)!r}), name='v4242')"
    )
    storing = launcher.manage("shell", "-c", code, broker_url=shared_broker_url, GRADER_MODEL_DIR=str(store))
    wait_until(lambda: any(store.rglob("*.bin")) or not storing.alive(), timeout=120, interval=0.01)
    assert storing.alive(), "storing finished before it could be killed:\n" + storing.log()[-2000:]
    storing.kill_group(signal.SIGKILL)

    assert list(store.iterdir()), "nothing was being written when the kill came"
    assert not (store / "v4242").exists(), "a half-written model directory under the version's name"
    # The next run (or anything calling it) clears what the killed one left, once it is past the grace period.
    settings.GRADER_MODEL_DIR = str(store)
    assert model_artifacts_remove_orphans(grace=timedelta(hours=1)) == []
    assert model_artifacts_remove_orphans(grace=timedelta(0))
    assert not list(store.iterdir())


@pytest.mark.django_db
def test_only_unrecorded_trained_artifacts_past_the_grace_period_are_removed(base_model_version, tmp_path, settings):
    settings.GRADER_MODEL_DIR = str(tmp_path)
    for name in ["base", "v7", "v8", ".partial-v9-0a1b2c", "operator-notes"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    ModelVersion.objects.create(name="v7", artifact_path="v7", sha256="0" * 64)
    an_hour_ago = time.time() - 3600
    for path in tmp_path.rglob("*"):
        if path.parent.name != "v8" and path.name != "v8":
            os.utime(path, (an_hour_ago, an_hour_ago))

    removed = model_artifacts_remove_orphans(grace=timedelta(minutes=10))

    assert sorted(removed) == [".partial-v9-0a1b2c"]  # v8 is too young: a run may be about to record it
    assert sorted(path.name for path in tmp_path.iterdir()) == ["base", "operator-notes", "v7", "v8"]
