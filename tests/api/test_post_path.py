"""A single POST outside any transaction (as gunicorn serves it): one INSERT, and its message only once committed."""

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grader import dispatch
from grader.models import Submission

pytestmark = pytest.mark.django_db(transaction=True)


def post(api, question, external_id: str, answer: str = "It lowers the loss step by step."):
    body = {"question": question.pk, "student_ref": "student-7", "answer": answer, "external_id": external_id}
    return api.post("/api/v1/submissions/", body, format="json")


@pytest.fixture
def published(monkeypatch) -> list[tuple[int, bool]]:
    """(submission id, whether another connection already saw the row) for every grading message."""
    database = settings.DATABASES["default"]
    seen: list[tuple[int, bool]] = []

    def enqueue(submission_id: int) -> bool:
        with psycopg.connect(host=database["HOST"], port=database["PORT"] or 5432, user=database["USER"],
                             dbname=database["NAME"], autocommit=True) as other:  # fmt: skip
            row = other.execute("SELECT 1 FROM grader_submission WHERE id = %s", [submission_id]).fetchone()
        seen.append((submission_id, row is not None))
        return True

    monkeypatch.setattr(dispatch, "enqueue_grading", enqueue)
    return seen


def test_a_new_answer_is_written_once_and_its_message_follows_the_commit(api, gradient_descent_question, published):
    post(api, gradient_descent_question, "warm-up")  # the integration's last_used_at write happens once a minute
    with CaptureQueriesContext(connection) as queries:
        response = post(api, gradient_descent_question, "attempt-1")
    assert response.status_code == 202
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    # The token, the question in the caller's scope, the INSERT: no BEGIN/COMMIT pair, no read-back.
    assert statements == ["SELECT", "SELECT", "INSERT"]
    assert published[-1] == (response.json()["id"], True)
    assert response.json()["status"] == "queued" and response.json()["course"] == gradient_descent_question.course_id


def test_a_replayed_external_id_returns_the_first_submission_and_sends_nothing(
    api, gradient_descent_question, published
):
    first = post(api, gradient_descent_question, "attempt-1")
    replay = post(api, gradient_descent_question, "attempt-1", answer="a different text")
    assert (first.status_code, replay.status_code) == (202, 200)
    assert replay.json() == first.json()
    assert [submission_id for submission_id, _ in published] == [first.json()["id"]]
    assert Submission.objects.count() == 1
