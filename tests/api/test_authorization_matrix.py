"""Every endpoint and object, called by its owner integration, a second integration and a stranger.

The owner gets the object; the second integration gets a 404 (never a 403 that confirms it exists) and changes
nothing; the stranger gets a 401. Lists never show another integration's objects.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from grader.models import Correction, Course, IntegrationScope, Question, Submission, WebhookEndpoint
from grader.services.webhooks import webhook_endpoint_create
from tests.api.conftest import basic


@pytest.fixture
def owned(owner, demo_course, gradient_descent_question, owned_submission, base_model_version, teacher) -> dict:
    with override_settings(GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS=True, GRADER_WEBHOOK_ALLOW_HTTP=True):
        endpoint = webhook_endpoint_create(integration=owner.integration, url="http://127.0.0.1:9/hook")
    return {
        "course": demo_course.pk,
        "question": gradient_descent_question.pk,
        "submission": owned_submission.pk,
        "webhook": endpoint.pk,
        "model_version": base_model_version.pk,
        "teacher": teacher.username,
    }


def _snapshot() -> tuple:
    return (
        list(Course.objects.order_by("pk").values_list("pk", "name", "archived_at")),
        list(Question.objects.order_by("pk").values_list("pk", "prompt", "max_points", "archived_at")),
        Submission.objects.count(),
        Correction.objects.count(),
        list(WebhookEndpoint.objects.order_by("pk").values_list("pk", "is_active")),
        list(Course.teachers.through.objects.order_by("pk").values_list("course_id", "user_id")),
    )


# (method, path, body); {course}, {question}... are the owner's objects.
OBJECT_CALLS = [
    ("get", "/api/v1/courses/{course}/", None),
    ("patch", "/api/v1/courses/{course}/", {"name": "Renamed"}),
    ("post", "/api/v1/courses/{course}/archive/", None),
    ("get", "/api/v1/courses/{course}/teachers/", None),
    ("delete", "/api/v1/courses/{course}/teachers/{teacher}/", None),
    ("get", "/api/v1/questions/{question}/", None),
    ("patch", "/api/v1/questions/{question}/", {"prompt": "Changed?"}),
    ("post", "/api/v1/questions/{question}/archive/", None),
    ("get", "/api/v1/submissions/{submission}/", None),
    ("get", "/api/v1/submissions/{submission}/grade/", None),
    ("get", "/api/v1/webhooks/{webhook}/", None),
    ("delete", "/api/v1/webhooks/{webhook}/", None),
]
OWNER_STATUS = {"get": 200, "patch": 200, "post": 200, "delete": 204}

LISTS = ["courses", "questions", "submissions", "webhooks"]


def call(client, method: str, path: str, body: dict | None):
    return getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)


@pytest.mark.parametrize(("method", "template", "body"), OBJECT_CALLS)
def test_owner_reaches_its_object(owner, owned, method, template, body):
    response = call(owner.client, method, template.format(**owned), body)
    assert response.status_code == OWNER_STATUS[method], response.content


@pytest.mark.parametrize(("method", "template", "body"), OBJECT_CALLS)
def test_second_integration_gets_404_and_changes_nothing(second, owned, method, template, body):
    before = _snapshot()
    response = call(second.client, method, template.format(**owned), body)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert _snapshot() == before


@pytest.mark.parametrize(("method", "template", "body"), OBJECT_CALLS)
def test_stranger_gets_401_and_changes_nothing(stranger, owned, method, template, body):
    before = _snapshot()
    response = call(stranger.client, method, template.format(**owned), body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert _snapshot() == before


@pytest.mark.parametrize("resource", LISTS)
def test_lists_show_only_the_callers_objects(owner, second, owned, second_submission, resource):
    mine = {item["id"] for item in owner.client.get(f"/api/v1/{resource}/").json()["results"]}
    theirs = {item["id"] for item in second.client.get(f"/api/v1/{resource}/").json()["results"]}
    owner_key = {"courses": "course", "questions": "question", "submissions": "submission", "webhooks": "webhook"}
    assert owned[owner_key[resource]] in mine
    assert owned[owner_key[resource]] not in theirs
    assert not mine & theirs


@pytest.mark.parametrize("resource", [*LISTS, "model-versions"])
def test_stranger_cannot_list(stranger, owned, resource):
    assert stranger.client.get(f"/api/v1/{resource}/").status_code == 401


def test_model_versions_are_readable_by_every_integration_but_not_strangers(owner, second, stranger, owned):
    path = f"/api/v1/model-versions/{owned['model_version']}/"
    assert owner.client.get(path).json()["name"] == "base"
    assert second.client.get(path).status_code == 200
    assert stranger.client.get(path).status_code == 401


def test_second_integration_cannot_create_in_the_owners_course(second, owned):
    before = _snapshot()
    question = second.client.post(
        "/api/v1/questions/",
        {"course": owned["course"], "key": "sneaky", "prompt": "?", "max_points": "2", "reference_answers": ["a"]},
        format="json",
    )
    submission = second.client.post(
        "/api/v1/submissions/", {"question": owned["question"], "student_ref": "x", "answer": "y"}, format="json"
    )
    bulk = second.client.post(
        "/api/v1/submissions/bulk/",
        {"submissions": [{"question": owned["question"], "student_ref": "x", "answer": "y"}]},
        format="json",
    )
    assert question.status_code == submission.status_code == bulk.status_code == 400
    assert _snapshot() == before


def test_correction_of_another_integrations_submission_is_404_even_with_the_scope(second, owned, teacher):
    second.integration.scopes = [IntegrationScope.CORRECTIONS_WRITE]
    second.integration.save()
    response = second.client.post(
        f"/api/v1/submissions/{owned['submission']}/corrections/", {"points": "1", "teacher": "ada"}, format="json"
    )
    assert response.status_code == 404
    assert Correction.objects.count() == 0


def test_correction_without_the_scope_is_403(owner, owned, teacher):
    response = owner.client.post(
        f"/api/v1/submissions/{owned['submission']}/corrections/", {"points": "1", "teacher": "ada"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Correction.objects.count() == 0


def test_correction_by_a_stranger_is_401(stranger, owned):
    response = stranger.client.post(f"/api/v1/submissions/{owned['submission']}/corrections/", {"points": "1"})
    assert response.status_code == 401


def test_teacher_of_another_course_gets_404(owned, second_course):
    other = get_user_model().objects.create_user("grace", password="grace-password-1")
    second_course.teachers.add(other)
    response = basic("grace", "grace-password-1").post(
        f"/api/v1/submissions/{owned['submission']}/corrections/", {"points": "1"}, format="json"
    )
    assert response.status_code == 404
    assert Correction.objects.count() == 0


def test_revoked_token_gets_401(owner, owned):
    owner.integration.revoked_at = timezone.now()
    owner.integration.save()
    assert owner.client.get(f"/api/v1/submissions/{owned['submission']}/").status_code == 401


def test_teacher_credentials_do_not_open_the_lms_endpoints(owned, teacher):
    assert basic("ada", "ada-password-1").get("/api/v1/submissions/").status_code == 401
