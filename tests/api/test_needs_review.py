"""A grade awaiting review is not final for the LMS; a teacher's correction or confirmation settles it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from grader.models import Correction, Submission, WebhookDelivery
from grader.services import submissions as submission_services
from grader.services.review import submissions_confirm_auto_grades
from grader.services.submissions import correction_create, submission_create, submission_grade
from grader.services.webhooks import webhook_endpoint_create
from tests.api.conftest import basic


@pytest.fixture
def hook(owner, settings):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.GRADER_WEBHOOK_ALLOW_HTTP = True
    # Port 9 (discard): the deliveries are recorded and read here, never sent.
    return webhook_endpoint_create(integration=owner.integration, url="http://127.0.0.1:9/hook")


@pytest.fixture
def awaiting_review(owned_submission) -> Submission:
    Submission.objects.filter(pk=owned_submission.pk).update(
        status=Submission.Status.NEEDS_REVIEW, confidence=0.42, review_reasons="negation,low_confidence"
    )
    owned_submission.refresh_from_db()
    return owned_submission


@pytest.fixture
def question_copy(owner, gradient_descent_question) -> Submission:
    """A queued answer that copies the question: the scoring step's guards send it to a teacher."""
    submission, _ = submission_create(
        question=gradient_descent_question,
        student_ref="copycat",
        answer=gradient_descent_question.prompt,
        integration=owner.integration,
    )
    return submission


def _events(event_type: str) -> list[dict]:
    return [
        json.loads(delivery.body) for delivery in WebhookDelivery.objects.filter(event_type=event_type).order_by("pk")
    ]


def test_the_lms_sees_no_final_points_while_a_grade_awaits_review(owner, awaiting_review):
    body = owner.client.get(f"/api/v1/submissions/{awaiting_review.pk}/").json()
    assert (body["status"], body["points"], body["final_points"]) == ("needs_review", "3.50", None)
    grade = owner.client.get(f"/api/v1/submissions/{awaiting_review.pk}/grade/").json()
    assert (grade["status"], grade["final_points"], grade["source"]) == ("needs_review", None, "none")
    assert grade["auto"]["points"] == "3.50"  # the provisional auto grade stays readable


def test_grading_that_routes_to_review_sends_no_final_points(hook, base_model_version, question_copy):
    submission = question_copy
    assert submission_grade(submission_id=submission.pk)
    [event] = _events("submission.graded")
    payload = event["data"]["submission"]
    assert (payload["status"], payload["final_points"]) == ("needs_review", None)
    assert payload["points"] is not None and "question_copy" in payload["review_reasons"]


def test_a_correction_releases_a_grade_awaiting_review(hook, awaiting_review, teacher):
    correction_create(submission=awaiting_review, teacher=teacher, points=Decimal("2"))
    awaiting_review.refresh_from_db()
    assert (awaiting_review.status, awaiting_review.final_points) == ("graded", Decimal("2"))
    # The flags stay beside the auto grade they explain.
    assert awaiting_review.review_reason_list == ["negation", "low_confidence"]
    [event] = _events("submission.grade_changed")
    assert event["reason"] == "correction"
    payload = event["data"]["submission"]
    assert (payload["status"], payload["final_points"], payload["points"]) == ("graded", "2.00", "3.50")


def test_confirming_the_auto_grade_releases_it_as_it_was(hook, awaiting_review, teacher):
    assert len(submissions_confirm_auto_grades(submissions=[awaiting_review], teacher=teacher)) == 1
    awaiting_review.refresh_from_db()
    assert (awaiting_review.status, awaiting_review.final_points) == ("graded", Decimal("3.50"))
    [event] = _events("submission.grade_changed")
    payload = event["data"]["submission"]
    assert (payload["status"], payload["final_points"]) == ("graded", "3.50")


def test_a_correction_through_the_api_releases_it(owner, awaiting_review, teacher):
    response = basic("ada", "ada-password-1").post(
        f"/api/v1/submissions/{awaiting_review.pk}/corrections/", {"points": "4"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["final_points"], response.json()["source"]) == (
        "graded",
        "4.00",
        "teacher",
    )
    listed = owner.client.get("/api/v1/submissions/", {"status": "needs_review"}).json()
    assert listed["count"] == 0


def test_the_release_is_in_the_correction_transaction(hook, awaiting_review, teacher, monkeypatch):
    def broken_outbox(**kwargs):
        raise RuntimeError("outbox down")

    monkeypatch.setattr(submission_services, "webhook_event_submission", broken_outbox)
    with pytest.raises(RuntimeError):
        correction_create(submission=awaiting_review, teacher=teacher, points=Decimal("2"))
    awaiting_review.refresh_from_db()
    assert (awaiting_review.status, awaiting_review.corrected_points) == ("needs_review", None)
    assert not Correction.objects.exists()


def test_correcting_a_released_grade_leaves_its_status(owned_submission, teacher, gradient_descent_question):
    correction_create(submission=owned_submission, teacher=teacher, points=Decimal("1"))
    failed = Submission.objects.create(
        question=gradient_descent_question, student_ref="s2", answer="a", status=Submission.Status.FAILED
    )
    correction_create(submission=failed, teacher=teacher, points=Decimal("1"))
    assert set(Submission.objects.values_list("status", flat=True)) == {"graded", "failed"}


def test_a_teacher_of_another_course_cannot_release_it(awaiting_review, second_course):
    outsider = get_user_model().objects.create_user("linus", password="linus-password-1")
    second_course.teachers.add(outsider)
    response = basic("linus", "linus-password-1").post(
        f"/api/v1/submissions/{awaiting_review.pk}/corrections/", {"points": "4"}, format="json"
    )
    assert response.status_code == 404
    awaiting_review.refresh_from_db()
    assert awaiting_review.status == "needs_review"


def test_an_answer_a_teacher_graded_while_it_waited_is_not_sent_back_to_review(
    base_model_version, question_copy, teacher
):
    # The copy would go to review, but the teacher graded it before any worker did.
    submission = question_copy
    correction_create(submission=submission, teacher=teacher, points=Decimal("1"))
    assert submission_grade(submission_id=submission.pk)
    submission.refresh_from_db()
    assert (submission.status, submission.final_points) == ("graded", Decimal("1"))
    assert "question_copy" in submission.review_reason_list and submission.points is not None
