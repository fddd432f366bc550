"""A worker whose clock is 400 s behind: claims, grades and its heartbeat carry the database's time, not its own.

The worker reads Django's clock through a shim (tests/reliability/skewed_clock) that sets it back; the machine's
clock, and every other process's, stay right.
"""

import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from grader.models import ModelVersion, Submission, WorkerHeartbeat
from grader.services.model_versions import model_version_activate
from grader.services.regrading import submissions_regrade
from grader.services.submissions import submission_create, submission_grade
from tests.conftest import PROJECT_DIR, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

SKEWED_CLOCK = {
    "PYTHONPATH": str(PROJECT_DIR / "tests" / "reliability" / "skewed_clock"),
    "GRADER_TEST_CLOCK_OFFSET_SECONDS": "-400",
}


def test_a_worker_with_a_slow_clock_stamps_grades_and_heartbeats_with_the_database_clock(
    launcher, shared_broker_url, base_model_version, gradient_descent_question
):
    assert skewed_process_clock() < timezone.now() - timedelta(seconds=300), "the shim did not set the clock back"
    worker = launcher.worker(shared_broker_url, **SKEWED_CLOCK)
    submission, _ = submission_create(
        question=gradient_descent_question, student_ref="s-1", answer="It moves the weights against the gradient."
    )
    done = [Submission.Status.GRADED, Submission.Status.NEEDS_REVIEW]
    wait_until(lambda: Submission.objects.filter(pk=submission.pk, status__in=done).exists(), timeout=120)

    submission.refresh_from_db()
    assert submission.grading_started_at >= submission.created_at
    assert submission.graded_at >= submission.grading_started_at
    heartbeat = WorkerHeartbeat.objects.get(hostname__startswith="worker")
    assert heartbeat.last_seen_at > timezone.now() - timedelta(seconds=120), "the heartbeat carries the slow clock"
    assert worker.alive()


def skewed_process_clock() -> datetime:
    code = "from django.utils import timezone; print(timezone.now().isoformat())"
    output = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **SKEWED_CLOCK}, capture_output=True, text=True, check=True
    ).stdout
    return datetime.fromisoformat(output.strip())


@pytest.mark.django_db
def test_a_regrade_on_a_machine_with_a_slow_clock_stamps_the_database_time(
    base_model_version, gradient_descent_question, monkeypatch
):
    submission, _ = submission_create(question=gradient_descent_question, student_ref="s-1", answer="Downhill steps.")
    submission_grade(submission_id=submission.pk)
    twin = ModelVersion.objects.create(
        name="twin", parent=base_model_version, artifact_path="base", sha256=base_model_version.sha256
    )
    model_version_activate(version=twin)
    true_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: true_now() - timedelta(seconds=400))

    assert submissions_regrade(question_ids=[gradient_descent_question.pk]) == 1
    submission.refresh_from_db()
    assert submission.model_version == twin
    assert submission.graded_at >= submission.created_at
