"""POST/GET /api/v1/submissions/: accepted at once, bad input refused with nothing stored, idempotent."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from grader.models import Submission


def post(api: APIClient, body: dict, **kwargs):
    return api.post("/api/v1/submissions/", body, format="json", **kwargs)


def valid_body(target_question, **overrides) -> dict:
    return {
        "question": target_question.pk,
        "student_ref": "student-7",
        "answer": "It lowers the loss step by step.",
        **overrides,
    }


def test_anonymous_requests_get_401(db):
    response = APIClient().get("/api/v1/submissions/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_unknown_token_gets_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer grd_not-a-real-token")
    assert client.get("/api/v1/submissions/").status_code == 401


def test_submission_is_accepted_queued_and_not_graded_in_the_request(api, gradient_descent_question):
    response = post(api, valid_body(gradient_descent_question, external_id="attempt-1"))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["points"] is None and body["similarity"] is None
    assert body["url"].endswith(f"/api/v1/submissions/{body['id']}/")
    assert response["Location"] == body["url"]
    assert api.get(f"/api/v1/submissions/{body['id']}/").json()["status"] == "queued"


def test_same_external_id_twice_returns_the_first_submission(api, gradient_descent_question):
    first = post(api, valid_body(gradient_descent_question, external_id="attempt-1"))
    second = post(api, valid_body(gradient_descent_question, external_id="attempt-1", answer="a different text"))
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["answer"] == first.json()["answer"]
    assert Submission.objects.count() == 1


def test_server_set_fields_cannot_be_written(api, gradient_descent_question):
    body = valid_body(gradient_descent_question, points="5", status="graded", similarity=1.0, model_version="v9")
    response = post(api, body)
    assert response.status_code == 202
    submission = Submission.objects.get()
    assert (submission.status, submission.points, submission.similarity, submission.model_version) == (
        "queued", None, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"answer": ""}, "answer"),
        ({"answer": "   \n\t "}, "answer"),
        ({"answer": None}, "answer"),
        ({"question": None}, "question"),
        ({"question": 987654}, "question"),
        ({"question": "gradient-descent"}, "question"),
        ({"student_ref": ""}, "student_ref"),
        ({"answer": "x" * 5001}, "answer"),
    ],
)
def test_bad_input_gets_400_naming_the_field_and_stores_nothing(api, gradient_descent_question, change, field):
    response = post(api, valid_body(gradient_descent_question, **change))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert Submission.objects.count() == 0


def test_missing_question_gets_400(api, gradient_descent_question):
    body = valid_body(gradient_descent_question)
    del body["question"]
    response = post(api, body)
    assert response.status_code == 400
    assert "question" in response.json()["error"]["fields"]


def test_question_of_another_course_is_refused_like_a_missing_one(api, other_course_question):
    response = post(api, valid_body(other_course_question))
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["question"] == ["Unknown question."]
    assert Submission.objects.count() == 0


def test_answer_length_limit_is_a_setting(api, gradient_descent_question):
    with override_settings(GRADER_ANSWER_MAX_CHARS=5000):
        assert post(api, valid_body(gradient_descent_question, answer="y" * 5000)).status_code == 202


def test_malformed_json_gets_400_and_stores_nothing(api, gradient_descent_question):
    response = api.generic("POST", "/api/v1/submissions/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert Submission.objects.count() == 0


def test_non_json_body_gets_415_and_stores_nothing(api, gradient_descent_question):
    response = api.post("/api/v1/submissions/", valid_body(gradient_descent_question), format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert Submission.objects.count() == 0


def test_an_integration_sees_only_submissions_of_its_courses(api, gradient_descent_question, other_course_question):
    foreign = Submission.objects.create(question=other_course_question, student_ref="s", answer="a")
    own = post(api, valid_body(gradient_descent_question)).json()
    listed = [item["id"] for item in api.get("/api/v1/submissions/").json()["results"]]
    assert listed == [own["id"]]
    response = api.get(f"/api/v1/submissions/{foreign.pk}/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_lms_creates_a_course_and_a_question_with_references(api):
    course = api.post("/api/v1/courses/", {"code": "BIO1", "name": "Biology"}, format="json")
    assert course.status_code == 201
    question = api.post(
        "/api/v1/questions/",
        {"course": course.json()["id"], "key": "cell", "prompt": "What is a cell?", "max_points": "4",
         "reference_answers": ["The smallest unit of life.", "The basic building block of living things."]},
        format="json",
    )  # fmt: skip
    assert question.status_code == 201
    assert [ref["text"] for ref in question.json()["reference_answers"]] == [
        "The smallest unit of life.", "The basic building block of living things.",
    ]  # fmt: skip
    assert api.get(f"/api/v1/questions/{question.json()['id']}/").status_code == 200
