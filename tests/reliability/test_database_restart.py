"""PostgreSQL "restarted" during grading: workers recover and nothing is lost.

The shared PostgreSQL cluster cannot be restarted under the other suites, so a restart is simulated the way
clients experience one: every server-side connection to the test database (except this test's own) is terminated
with pg_terminate_backend while a submission is being graded, and again while the worker is idle.
"""

import pytest
from django.db import connection

from grader.models import Submission
from grader.services.submissions import submission_create
from tests.reliability.conftest import assert_graded_once, submit_with_companions, wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def terminate_other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_worker_recovers_from_lost_database_connections_and_loses_nothing(
    launcher, shared_broker_url, base_model_version, gradient_descent_question
):
    worker = launcher.worker(shared_broker_url)
    first = submit_with_companions(gradient_descent_question, "It moves the weights against the gradient.")
    wait_for_status(first.pk, Submission.Status.GRADING)
    assert terminate_other_connections() >= 1  # the pool process's connection, mid-grading

    # The write after the outage fails with OperationalError, a named transient error: the task retries with a new
    # connection, claims the submission again and grades it.
    graded = wait_for_status(first.pk, Submission.Status.GRADED)
    assert graded.grading_attempts == 2, "the outage did not interrupt grading"
    assert 0 <= graded.points <= gradient_descent_question.max_points

    # An idle worker whose connections died grades the next submission without a restart.
    terminate_other_connections()
    second, _ = submission_create(
        question=gradient_descent_question, student_ref="s-2", answer="Gradient descent minimises the loss."
    )
    wait_for_status(second.pk, Submission.Status.GRADED)
    assert_graded_once([worker], first.pk)
    assert_graded_once([worker], second.pk)
    # Nothing lost: the two answers and the first one's twelve companions, all graded.
    assert set(Submission.objects.values_list("status", flat=True)) == {Submission.Status.GRADED}
    assert Submission.objects.count() == 2 + 12
    assert worker.alive()
