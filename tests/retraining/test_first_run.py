"""A new deployment's first retrain: one teacher correction must not produce a new active version."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from grader.models import ModelVersion, Submission, TrainingRun
from grader.services.submissions import correction_create, submission_create
from tests.retraining.conftest import _grade_all

pytestmark = pytest.mark.django_db


def test_one_correction_then_retrain_is_skipped_and_a_forced_retrain_is_not_activated(
    demo_course, base_model_version, teacher, fast_training
):
    question = demo_course.questions.get(key="gradient-descent")
    submission, _ = submission_create(question=question, student_ref="s1", answer="It makes the loss go down.")
    _grade_all(base_model_version)
    correction_create(submission=Submission.objects.get(pk=submission.pk), teacher=teacher, points=question.max_points)

    output = StringIO()
    call_command("retrain", stdout=output)

    skipped = TrainingRun.objects.get()
    assert skipped.status == TrainingRun.Status.SKIPPED
    assert skipped.reason.startswith("Skipped: teachers corrected 1 answer since the first version;")
    assert f"at least {settings.GRADER_RETRAIN_MIN_NEW_CORRECTIONS} (GRADER_RETRAIN_MIN_NEW_CORRECTIONS)" in (
        skipped.reason
    )
    assert skipped.reason in output.getvalue()
    assert ModelVersion.objects.count() == 1

    # Forced, it trains on the seed pairs and the one correction; the gate judges only on held-out teachers'
    # corrections, never on the seed pairs, so there is nothing to show the new version learned anything.
    call_command("retrain", "--force", stdout=StringIO())

    run = TrainingRun.objects.exclude(pk=skipped.pk).get()
    version = run.produced_version
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert version.status == ModelVersion.Status.REJECTED, run.reason
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version
    assert run.held_out_size > version.evaluation["held_out_size"]  # seed pairs held out, but not judged on
    assert version.evaluation["gate"]["promote"] is False
    assert run.reason == version.evaluation["gate"]["reason"]
    assert run.reason.startswith("Not activated: none of the answers teachers corrected was kept out of its training")
