"""Retraining SIGKILLed midway (`manage.py retrain` in its own process): the active model and every grade stay
as they were, and the active model's artifact is untouched.
"""

import signal
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from grader.models import Correction, ModelVersion, Submission, TrainingRun
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
    retrain = launcher.manage("retrain", broker_url=shared_broker_url, TMPDIR=str(scratch))
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
    # SIGKILL leaves no chance to record the failure: the run stays "running" (see the report for issue 3).
    run.refresh_from_db()
    assert run.produced_version is None


def grades(submissions: list[Submission]) -> dict:
    rows = Submission.objects.filter(pk__in=[submission.pk for submission in submissions])
    return {row.pk: (row.status, row.points, row.corrected_points, row.model_version_id) for row in rows}
