"""The same grading message delivered twice and run by two pool processes at once (Redis hands an unacknowledged
message out again after a stall): the second copy leaves the first one's claim alone, so every row is claimed
once, graded once, and no attempt is burned.
"""

import re
import uuid

import pytest

from grader.models import Submission
from grader.tasks import grade_submission
from tests.conftest import wait_until
from tests.reliability.conftest import LONG_ANSWER, assert_graded_once, wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

DONE = [Submission.Status.GRADED, Submission.Status.NEEDS_REVIEW]


def test_a_message_running_twice_at_once_grades_once_and_counts_one_attempt(
    launcher, shared_broker_url, graded_outbox, base_model_version, gradient_descent_question
):
    worker = launcher.worker(shared_broker_url, concurrency=2)
    load_the_model_in_both_processes(worker, gradient_descent_question)
    # Rows written without a message of their own: the test sends the only message, twice, with one task id.
    # Many long companions keep the first copy's claim open while the second copy runs.
    first = Submission.objects.create(
        question=gradient_descent_question, student_ref="s-1", answer="It moves the weights against the gradient."
    )
    Submission.objects.bulk_create(
        Submission(question=gradient_descent_question, student_ref=f"c-{i}", answer=f"{i}. {LONG_ANSWER}")
        for i in range(24)
    )
    task_id = str(uuid.uuid4())
    grade_submission.apply_async(args=[first.pk], task_id=task_id)
    wait_for_status(first.pk, Submission.Status.GRADING)
    grade_submission.apply_async(args=[first.pk], task_id=task_id)

    succeeded = re.compile(rf"Task grader\.tasks\.grade_submission\[{task_id}\] succeeded")
    wait_until(lambda: succeeded.search(worker.log()), timeout=120)
    first.refresh_from_db()
    assert first.status == Submission.Status.GRADING, "the copies did not run at the same time"

    wait_until(lambda: len(succeeded.findall(worker.log())) == 2, timeout=120)
    wait_until(lambda: not Submission.objects.exclude(status__in=DONE).exists(), timeout=120)
    rows = Submission.objects.all()
    assert len(rows) == 25
    assert {row.grading_attempts for row in rows} == {1}, "a copy took the other's claim"
    for row in rows:
        assert_graded_once(row.pk)
    assert worker.alive()


def load_the_model_in_both_processes(worker, question) -> None:
    """A copy that loads the model first (seconds) could start after the other copy is done."""
    loaded = re.compile(r"ForkPoolWorker-(\d+)\] loading model version")
    for attempt in range(10):
        warm_up = Submission.objects.create(question=question, student_ref=f"warm-up-{attempt}", answer="Downhill.")
        for _ in range(2):  # the first process is busy loading when the second message arrives
            grade_submission.delay(warm_up.pk)
        wait_until(lambda pk=warm_up.pk: Submission.objects.filter(pk=pk, status__in=DONE).exists(), timeout=120)
        if len(set(loaded.findall(worker.log()))) == 2:
            break
    assert len(set(loaded.findall(worker.log()))) == 2, worker.log()[-3000:]
    Submission.objects.all().delete()
