"""The scoring step's confidence and review reasons reach the LMS: submission, grade and webhook payload."""

from __future__ import annotations

import json

from grader.models import Submission, WebhookDelivery
from grader.services.webhooks import webhook_event_submission


def _flag(submission: Submission) -> None:
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.NEEDS_REVIEW, confidence=0.42, review_reasons="negation,low_confidence"
    )


def test_submission_shows_confidence_and_review_reasons(owner, owned_submission):
    _flag(owned_submission)
    body = owner.client.get(f"/api/v1/submissions/{owned_submission.pk}/").json()
    assert (body["status"], body["confidence"], body["review_reasons"]) == (
        "needs_review",
        0.42,
        ["negation", "low_confidence"],
    )
    listed = owner.client.get("/api/v1/submissions/").json()["results"]
    assert listed[0]["review_reasons"] == ["negation", "low_confidence"]


def test_a_submission_without_flags_has_an_empty_list(owner, gradient_descent_question):
    created = owner.client.post(
        "/api/v1/submissions/",
        {"question": gradient_descent_question.pk, "student_ref": "s", "answer": "a"},
        format="json",
    ).json()
    assert (created["confidence"], created["review_reasons"]) == (None, [])


def test_grade_shows_them_with_the_auto_grade(owner, owned_submission):
    _flag(owned_submission)
    auto = owner.client.get(f"/api/v1/submissions/{owned_submission.pk}/grade/").json()["auto"]
    assert (auto["confidence"], auto["review_reasons"]) == (0.42, ["negation", "low_confidence"])


def test_webhook_payload_carries_them(owner, owned_submission, settings):
    settings.GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.GRADER_WEBHOOK_ALLOW_HTTP = True
    owner.client.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/hook"}, format="json")
    _flag(owned_submission)
    webhook_event_submission(submission_id=owned_submission.pk, event="submission.graded", reason="graded")
    payload = json.loads(WebhookDelivery.objects.get().body)["data"]["submission"]
    assert (payload["confidence"], payload["review_reasons"]) == (0.42, ["negation", "low_confidence"])
