"""PostgreSQL restarted: workers recover and nothing is lost; the API answers 503 meanwhile, then as before.

The shared PostgreSQL cluster cannot be restarted under the other suites. For the workers a restart is simulated
the way clients experience one: every server-side connection to the test database (except this test's own) is
terminated with pg_terminate_backend while a submission is being graded, and again while the worker is idle. The
API test runs gunicorn on a throwaway cluster of its own (conftest's private_postgres), stopped for real.
"""

import json
import re

import pytest
import requests
from django.db import OperationalError, connection

from grader.api.errors import server_error
from grader.models import Submission
from grader.services.submissions import submission_create
from tests.conftest import wait_until
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
    launcher, shared_broker_url, graded_outbox, base_model_version, gradient_descent_question
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
    assert_graded_once(first.pk)
    assert_graded_once(second.pk)
    # Nothing lost: the two answers and the first one's twelve companions, all graded.
    assert set(Submission.objects.values_list("status", flat=True)) == {Submission.Status.GRADED}
    assert Submission.objects.count() == 2 + 12
    assert worker.alive()


def test_the_api_answers_503_with_retry_after_while_its_database_is_down_and_recovers(
    launcher, shared_broker_url, private_postgres
):
    # gunicorn on a PostgreSQL cluster of this test's own, which is really stopped and started again.
    database = {"DATABASE_URL": private_postgres.url}
    for command in (["migrate", "--noinput"], ["load_demo", "--demo-superuser"]):
        setup = launcher.manage(*command, broker_url=shared_broker_url, **database)
        assert setup.popen.wait(timeout=600) == 0, setup.log()[-3000:]
    token = re.search(r"API token \(demo-lms\): (\S+)", setup.log()).group(1)
    web = launcher.gunicorn(shared_broker_url, **database)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    question = session.get(f"{web}/api/v1/questions/", timeout=30).json()["results"][0]["id"]

    def submit(external_id: str, **headers: str) -> requests.Response:
        body = {"question": question, "student_ref": "s-1", "external_id": external_id, "answer": "Downhill steps."}
        return session.post(f"{web}/api/v1/submissions/", json=body, headers=headers, timeout=30)

    accepted = submit("attempt-1")
    assert accepted.status_code == 202, accepted.text
    submission = accepted.json()["id"]

    private_postgres.stop()
    bulk = {"submissions": [{"question": question, "student_ref": "s-2", "answer": "Against the gradient."}]}
    during_outage = {
        "list submissions": lambda: session.get(f"{web}/api/v1/submissions/", timeout=30),
        "one submission": lambda: session.get(f"{web}/api/v1/submissions/{submission}/", timeout=30),
        "its grade": lambda: session.get(f"{web}/api/v1/submissions/{submission}/grade/", timeout=30),
        "questions": lambda: session.get(f"{web}/api/v1/questions/", timeout=30),
        "courses": lambda: session.get(f"{web}/api/v1/courses/", timeout=30),
        "model versions": lambda: session.get(f"{web}/api/v1/model-versions/", timeout=30),
        "submit": lambda: submit("attempt-2"),
        "submit with an idempotency key": lambda: submit("attempt-3", **{"Idempotency-Key": "key-3"}),
        "bulk": lambda: session.post(f"{web}/api/v1/submissions/bulk/", json=bulk, timeout=30),
    }
    for name, send in during_outage.items():
        response = send()
        assert response.status_code == 503, f"{name}: {response.status_code} {response.text[:300]}"
        assert int(response.headers["Retry-After"]) > 0, name
        assert response.json()["error"]["code"] == "unavailable", name

    private_postgres.start()
    replay = wait_until(lambda: (r := submit("attempt-1")).status_code != 503 and r, timeout=60)
    assert replay.status_code == 200 and replay.json()["id"] == submission, "the replay is the first submission"
    assert submit("attempt-2").status_code == 202, "nothing was stored during the outage"


def test_a_database_error_raised_outside_a_view_is_a_503_too(rf):
    # A middleware's query fails before DRF's exception handler is in play: Django's 500 handler answers.
    try:
        raise OperationalError("connection to server failed: Connection refused")
    except OperationalError:
        response = server_error(rf.get("/api/v1/submissions/"))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert json.loads(response.content)["error"]["code"] == "unavailable"
