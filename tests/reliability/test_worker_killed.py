"""A worker SIGKILLed while it grades: the submission is still graded, and its grade written exactly once.

The kill lands mid-grading without any test hook in the grading code: the submission is queued with long
companions that the same claim takes along, and encoding them keeps it `grading` for a while (conftest's
submit_with_companions). Each test checks that the submission was still `grading` after the kill, so a kill that
came too late fails the test instead of passing it.
"""

import os
import signal

import pytest

from grader.models import Submission, WorkerHeartbeat
from tests.reliability.conftest import (
    assert_graded_once,
    submit_with_companions,
    sweep_every_second,
    wait_for_status,
)

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def test_pool_process_killed_while_grading_is_redelivered_and_graded_once(
    launcher, shared_broker_url, graded_outbox, base_model_version, gradient_descent_question
):
    worker = launcher.worker(shared_broker_url)
    [pool_process] = worker.children()

    submission = submit_with_companions(
        gradient_descent_question, "It follows the negative gradient to reduce the loss."
    )
    wait_for_status(submission.pk, Submission.Status.GRADING)

    os.kill(pool_process, signal.SIGKILL)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.GRADING, "the kill came after grading had finished"

    # acks_late + reject_on_worker_lost: the main process puts the message back and a new pool process grades it.
    graded = wait_for_status(submission.pk, Submission.Status.GRADED)
    assert graded.grading_attempts == 2
    assert graded.model_version == base_model_version
    assert 0 <= graded.points <= gradient_descent_question.max_points
    assert_graded_once(submission.pk)
    assert worker.alive()
    # The worker announced itself for readiness.
    assert WorkerHeartbeat.objects.filter(hostname__startswith="worker").exists()


def test_whole_worker_killed_while_grading_is_recovered_by_the_sweeper(
    launcher, shared_broker_url, graded_outbox, base_model_version, gradient_descent_question
):
    doomed = launcher.worker(shared_broker_url)
    submission = submit_with_companions(
        gradient_descent_question, "Gradient descent walks downhill on the loss surface."
    )
    wait_for_status(submission.pk, Submission.Status.GRADING)
    doomed.kill_group(signal.SIGKILL)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.GRADING, "the kill came after grading had finished"

    # The message is unacknowledged in Redis until the visibility timeout (hours). The sweeper, run by beat,
    # re-enqueues the submission once its grading lease expires (3 s here, 5 min by default).
    sweep_every_second()
    lease = {"GRADER_GRADING_LEASE_SECONDS": "3"}
    launcher.worker(shared_broker_url, **lease)
    launcher.beat(shared_broker_url)

    graded = wait_for_status(submission.pk, Submission.Status.GRADED)
    assert graded.grading_attempts == 2
    assert 0 <= graded.points <= gradient_descent_question.max_points
    assert_graded_once(submission.pk)


def test_whole_worker_killed_is_recovered_once_its_heartbeat_stops_long_before_the_lease(
    launcher, shared_broker_url, graded_outbox, base_model_version, gradient_descent_question
):
    # The lease is an hour here: only the stopped heartbeat can hand the claim back within the wait below.
    settings = {
        "GRADER_WORKER_HEARTBEAT_SECONDS": "1",
        "GRADER_WORKER_LOST_AFTER_SECONDS": "3",
        "GRADER_GRADING_LEASE_SECONDS": "3600",
    }
    doomed = launcher.worker(shared_broker_url, **settings)
    submission = submit_with_companions(gradient_descent_question, "Each step goes against the gradient.")
    wait_for_status(submission.pk, Submission.Status.GRADING)
    doomed.kill_group(signal.SIGKILL)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.GRADING, "the kill came after grading had finished"

    sweep_every_second()
    launcher.worker(shared_broker_url, **settings)
    launcher.beat(shared_broker_url, **settings)

    graded = wait_for_status(submission.pk, Submission.Status.GRADED, timeout=120)
    assert graded.grading_attempts == 2
    assert graded.grading_worker != submission.grading_worker, "graded by the survivor"
    assert_graded_once(submission.pk)
