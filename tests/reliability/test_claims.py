"""Which grading claims a delivery may take over: only those whose holder is gone, never a live one."""

import os
import subprocess
import sys
import uuid

import pytest
from django.utils import timezone

from grader.models import Submission
from grader.services.submissions import GradingDelivery, _submissions_claim

WORKER = "this-worker"


@pytest.fixture
def held(gradient_descent_question):
    """A submission under a claim taken a moment ago (well inside the lease) by the given holder."""

    def hold(**holder) -> Submission:
        submission = Submission.objects.create(question=gradient_descent_question, student_ref="s", answer="a")
        Submission.objects.filter(pk=submission.pk).update(
            status=Submission.Status.GRADING,
            grading_started_at=timezone.now(),
            grading_claim=uuid.uuid4().hex,
            grading_attempts=1,
            **holder,
        )
        return submission

    return hold


def claim(submission: Submission, delivery: GradingDelivery) -> list[int]:
    return _submissions_claim(submission_id=submission.pk, limit=1, claim=uuid.uuid4().hex, delivery=delivery)


def exited_process_id() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.django_db
def test_a_copy_of_the_same_message_leaves_a_live_claim_alone(held):
    submission = held(grading_worker=WORKER, grading_pid=os.getppid(), grading_task_id="task-1")

    assert claim(submission, GradingDelivery(worker=WORKER, task_id="task-1")) == []
    assert claim(submission, GradingDelivery(worker="another-worker", task_id="task-1")) == []
    submission.refresh_from_db()
    assert submission.grading_attempts == 1


@pytest.mark.django_db
def test_the_claim_of_a_pool_process_that_exited_is_taken_by_its_own_worker_only(held):
    submission = held(grading_worker=WORKER, grading_pid=exited_process_id(), grading_task_id="task-1")

    # Another worker runs other process ids: it cannot tell, and waits for the heartbeat or the lease.
    assert claim(submission, GradingDelivery(worker="another-worker", task_id="task-1")) == []
    assert claim(submission, GradingDelivery(worker=WORKER, task_id="task-1")) == [submission.pk]
    submission.refresh_from_db()
    assert submission.grading_attempts == 2


@pytest.mark.django_db
def test_a_later_try_of_the_same_task_takes_back_the_claim_an_earlier_try_could_not_hand_back(held):
    submission = held(grading_worker=WORKER, grading_pid=os.getppid(), grading_task_id="task-1")

    assert claim(submission, GradingDelivery(worker="another-worker", task_id="task-2", retries=1)) == []
    assert claim(submission, GradingDelivery(worker="another-worker", task_id="task-1", retries=1)) == [submission.pk]
    submission.refresh_from_db()
    assert submission.grading_task_retries == 1
