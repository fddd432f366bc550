"""Hostile JSON bodies: a 400 in the API's error shape, never a 500, and nothing written."""

from __future__ import annotations

import pytest

from grader.models import Course, Submission, WebhookEndpoint

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 600 + "1" + "}" * 600

ENDPOINTS = [
    "/api/v1/submissions/",
    "/api/v1/submissions/bulk/",
    "/api/v1/webhooks/",
    "/api/v1/courses/",
    "/api/v1/questions/",
]


def _post(party, path: str, raw: str):
    return party.client.generic("POST", path, raw, content_type="application/json")


def _assert_refused(response) -> None:
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] and error["message"]


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, '{"question": ' + "[" * 40 + "]" * 40 + "}"])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_deeply_nested_json_is_a_400(owner, gradient_descent_question, path, body):
    _assert_refused(_post(owner, path, body))
    assert not Submission.objects.exists() and not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("number", ["1e309", "-1e309", "1E400", "NaN", "Infinity", "-Infinity"])
def test_numbers_beyond_a_float_are_a_400(owner, gradient_descent_question, number):
    single = '{"question": $$, "student_ref": "s", "answer": "a"}'.replace("$$", number)
    _assert_refused(_post(owner, "/api/v1/submissions/", single))
    _assert_refused(_post(owner, "/api/v1/submissions/bulk/", '{"submissions": [$$]}'.replace("$$", single)))
    assert not Submission.objects.exists()


@pytest.mark.parametrize("number", ["1e308", "99999999999999999999999", "-1", "1.5", "0", "9223372036854775808"])
def test_ids_that_are_numbers_but_no_id_are_a_400(owner, gradient_descent_question, number):
    single = '{"question": $$, "student_ref": "s", "answer": "a"}'.replace("$$", number)
    _assert_refused(_post(owner, "/api/v1/submissions/", single))
    _assert_refused(_post(owner, "/api/v1/submissions/bulk/", '{"submissions": [$$]}'.replace("$$", single)))
    body = '{"course": $$, "key": "k", "prompt": "p", "max_points": "1", "reference_answers": ["r"]}'.replace(
        "$$", number
    )
    _assert_refused(_post(owner, "/api/v1/questions/", body))
    assert not Submission.objects.exists()


@pytest.mark.parametrize("value", ['"\\u0000"', '"a\\u0000b"'])
def test_nul_characters_are_a_400(owner, demo_course, value):
    courses = Course.objects.count()
    _assert_refused(_post(owner, "/api/v1/courses/", '{"code": "c", "name": $$}'.replace("$$", value)))
    assert Course.objects.count() == courses
