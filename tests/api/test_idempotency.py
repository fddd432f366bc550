"""Retries never create duplicates: same (question, external_id), or the same Idempotency-Key, sequential or
concurrent (threads against a live server, so each request has its own PostgreSQL transaction)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests

from grader.models import IdempotencyRecord, Submission

THREADS = 6


def _concurrently(send) -> list[requests.Response]:
    barrier = Barrier(THREADS)

    def one(_):
        barrier.wait()  # release every request at the same moment
        return send()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


@pytest.fixture
def post(live_server, integration_and_token):
    headers = {"Authorization": f"Bearer {integration_and_token[1]}"}

    def send(path: str, body: dict, **extra_headers) -> requests.Response:
        return requests.post(f"{live_server.url}{path}", json=body, headers={**headers, **extra_headers}, timeout=30)

    return send


def test_idempotency_key_replay_returns_the_first_submission(api, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "first"}
    first = api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Submission.objects.count() == 1


def test_idempotency_key_reused_for_another_body_is_422(api, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "first"}
    api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    response = api.post("/api/v1/submissions/", {**body, "answer": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Submission.objects.count() == 1


def test_failed_request_does_not_burn_its_idempotency_key(api, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "  "}
    assert api.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == 400
    assert not IdempotencyRecord.objects.exists()


def test_concurrent_retries_with_one_idempotency_key_create_one_submission(post, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "racing"}
    responses = _concurrently(lambda: post("/api/v1/submissions/", body, **{"Idempotency-Key": "race-1"}))
    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [202]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Submission.objects.count() == 1


def test_concurrent_retries_with_one_external_id_create_one_submission(post, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "racing", "external_id": "e-1"}
    responses = _concurrently(lambda: post("/api/v1/submissions/", body))
    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [202]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Submission.objects.count() == 1


def test_concurrent_bulk_retries_create_each_submission_once(post, gradient_descent_question):
    items = [
        {"question": gradient_descent_question.pk, "student_ref": f"s{i}", "answer": f"a{i}", "external_id": f"b{i}"}
        for i in range(10)
    ]
    responses = _concurrently(lambda: post("/api/v1/submissions/bulk/", {"submissions": items}))
    # One multi-row INSERT wins whole; every other retry finds all ten stored and replays them.
    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [202], [r.content for r in responses]
    assert sum(r.json()["created_count"] for r in responses) == 10
    assert len({tuple(s["id"] for s in r.json()["results"]) for r in responses}) == 1
    assert Submission.objects.count() == 10


def test_concurrent_bulk_retries_with_one_key_and_no_external_ids(post, gradient_descent_question):
    items = [{"question": gradient_descent_question.pk, "student_ref": f"s{i}", "answer": f"a{i}"} for i in range(10)]
    responses = _concurrently(
        lambda: post("/api/v1/submissions/bulk/", {"submissions": items}, **{"Idempotency-Key": "bulk-1"})
    )
    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [202]
    assert len({tuple(s["id"] for s in r.json()["results"]) for r in responses}) == 1
    assert Submission.objects.count() == 10
