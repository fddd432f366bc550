"""Bounded input, server-set fields, JSON only, and per-token throttling."""

from __future__ import annotations

import json

import pytest

from grader.models import Course, Question, Submission, WebhookEndpoint


def test_question_create_ignores_server_set_fields(owner, demo_course):
    response = owner.client.post(
        "/api/v1/questions/",
        {"course": demo_course.pk, "key": "k1", "prompt": "p", "max_points": "2", "reference_answers": ["r"],
         "id": 999999, "archived_at": "2020-01-01T00:00:00Z", "created_at": "2020-01-01T00:00:00Z"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201
    question = Question.objects.get(key="k1")
    assert question.pk != 999999
    assert question.archived_at is None
    assert question.created_at.year > 2020


def test_course_create_ignores_id_and_timestamps(owner):
    response = owner.client.post(
        "/api/v1/courses/",
        {"code": "c1", "name": "n", "id": 424242, "created_at": "2020-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 201
    course = Course.objects.get(code="c1")
    assert course.pk != 424242 and course.created_at.year > 2020


def test_webhook_registration_cannot_choose_secret_owner_or_state(owner, second, settings):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.GRADER_WEBHOOK_ALLOW_HTTP = True
    response = owner.client.post(
        "/api/v1/webhooks/",
        {"url": "http://127.0.0.1:9/h", "secret": "mine", "integration": second.integration.pk, "is_active": False},
        format="json",
    )
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret != "mine" and endpoint.secret == response.json()["secret"]
    assert endpoint.integration == owner.integration and endpoint.is_active


def test_webhook_to_a_private_address_is_refused_by_default(owner):
    response = owner.client.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/h"}, format="json")
    assert response.status_code == 400
    assert "url" in response.json()["error"]["fields"]


def test_submission_bulk_ignores_server_set_fields(owner, gradient_descent_question):
    item = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "a",
            "points": "5", "status": "graded", "similarity": 1.0, "corrected_points": "5",
            "confidence": 1.0, "review_reasons": ["negation"]}  # fmt: skip
    assert owner.client.post("/api/v1/submissions/bulk/", {"submissions": [item]}, format="json").status_code == 202
    submission = Submission.objects.get()
    assert (submission.status, submission.points, submission.similarity, submission.corrected_points) == (
        "queued", None, None, None,
    )  # fmt: skip
    assert (submission.confidence, submission.review_reasons) == (None, "")


def _question(**overrides) -> dict:
    return {"key": "k", "prompt": "p", "max_points": "2", "reference_answers": ["r"], **overrides}


@pytest.mark.parametrize(
    ("path", "field", "body"),
    [
        ("/api/v1/courses/", "code", {"code": "c" * 65, "name": "n"}),
        ("/api/v1/courses/", "name", {"code": "c", "name": "n" * 201}),
        ("/api/v1/questions/", "prompt", _question(prompt="p" * 5001)),
        ("/api/v1/questions/", "key", _question(key="k" * 65)),
        ("/api/v1/questions/", "reference_answers", _question(reference_answers=["r" * 5001])),
        ("/api/v1/questions/", "reference_answers", _question(reference_answers=["r"] * 21)),
        ("/api/v1/submissions/", "student_ref", {"student_ref": "s" * 201, "answer": "a"}),
        ("/api/v1/submissions/", "external_id", {"student_ref": "s", "answer": "a", "external_id": "e" * 201}),
        ("/api/v1/webhooks/", "url", {"url": "https://example.com/" + "x" * 500}),
    ],
)
def test_every_text_field_has_a_length_limit(owner, demo_course, gradient_descent_question, path, field, body):
    body = {"course": demo_course.pk, "question": gradient_descent_question.pk, **body}
    response = owner.client.post(path, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_body_over_the_size_limit_is_413_and_stores_nothing(owner, gradient_descent_question, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps(
        {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "a", "pad": "x" * 20_000}
    )
    response = owner.client.generic("POST", "/api/v1/submissions/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert Submission.objects.count() == 0


def test_default_body_limit_is_one_mebibyte(owner, gradient_descent_question):
    items = [{"question": gradient_descent_question.pk, "student_ref": "s", "answer": "a" * 5000}] * 100
    body = json.dumps({"submissions": items}) + " " * (1024 * 1024)
    response = owner.client.generic("POST", "/api/v1/submissions/bulk/", body, content_type="application/json")
    assert response.status_code == 413
    assert Submission.objects.count() == 0


def test_long_idempotency_key_is_refused(owner, gradient_descent_question):
    body = {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "a"}
    response = owner.client.post("/api/v1/submissions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert response.status_code == 400
    assert Submission.objects.count() == 0


@pytest.mark.parametrize(
    "path", ["/api/v1/courses/", "/api/v1/questions/", "/api/v1/submissions/bulk/", "/api/v1/webhooks/"]
)
def test_every_write_accepts_json_only(owner, path):
    response = owner.client.post(path, {"name": "x"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_throttling_is_per_token_with_429_and_retry_after(owner, second, settings):
    settings.GRADER_API_THROTTLE_RATE = "3/min"
    statuses = [owner.client.get("/api/v1/courses/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = owner.client.get("/api/v1/courses/")
    assert throttled.json()["error"]["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60
    # Another integration has its own budget.
    assert second.client.get("/api/v1/courses/").status_code == 200


def test_the_throttle_budget_is_exact_under_concurrent_requests(owner, settings, redis_cache):
    """Web processes share the budget through Redis. DRF's history list (read, append, write back) let concurrent
    requests read the same history and all pass; one atomic counter lets exactly the budget through."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from django.core.cache import cache

    from grader.api.throttling import IntegrationRateThrottle

    settings.GRADER_API_THROTTLE_RATE = "25/hour"
    request = SimpleNamespace(user=owner.integration, META={"REMOTE_ADDR": "127.0.0.1"})

    def attempt(_: int) -> bool:
        return IntegrationRateThrottle().allow_request(request, view=None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(attempt, range(80)))
    late = IntegrationRateThrottle()
    assert not late.allow_request(request, view=None)
    # Every window's counter expires (an INCR on a missing key would create one that never does).
    client = cache._cache.get_client(write=False)
    counters = client.keys("*throttle:*")
    assert counters and all(0 < client.ttl(key) <= 3600 + 5 for key in counters)
    assert sum(allowed) == 25
    assert 0 < late.wait() <= 3600
