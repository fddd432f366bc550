"""End to end: an instructor deep-links a new question, a student answers in the LMS, the real worker grades it,
and the platform's gradebook receives PendingManual, then FullyGraded once the teacher corrects it (after the
platform failed once and the score was retried)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grader.lti.models import LtiContext, ScorePassback
from grader.models import Question, Submission
from grader.services.submissions import correction_create
from tests.conftest import wait_until
from tests.lti.conftest import parse_form

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@pytest.fixture
def fast_retries(monkeypatch) -> None:
    # Read by the worker process from its environment: requested before celery_worker_process starts it.
    monkeypatch.setenv("GRADER_WEBHOOK_BACKOFF_SECONDS", "0.5")


def _deep_link_new_question(browser, platform) -> dict:
    page = browser.launch("a", user="teacher-1", role="instructor", context="bio", message="deep")
    assert page.status_code == 200 and "Add a grader question" in page.text
    returned = browser.submit_form(
        page,
        prompt="What does osmosis move, and in which direction?",
        reference="Water moves through a membrane toward the side with more solute.",
        max_points="4",
    )
    assert returned.status_code == 200, returned.text
    action, fields = parse_form(returned.text)
    accepted = browser.session.post(action, data=fields)  # the page's auto-submitting form, to the platform
    assert accepted.status_code == 200, accepted.text
    [item] = platform.state()["content_items"]
    return item


def test_deep_linked_question_answered_in_the_lms_reaches_the_gradebook(
    fast_retries, base_model_version, registered, platform, browser, celery_worker_process
):
    item = _deep_link_new_question(browser, platform)
    assert item["type"] == "ltiResourceLink" and item["lineItem"]["scoreMaximum"] == 4.0
    question = Question.objects.get(pk=int(item["custom"]["grader_question"]))
    assert question.course == LtiContext.objects.get(platform=registered["a"], context_id="bio").course
    # Every auto grade of this question waits for the teacher.
    Question.objects.filter(pk=question.pk).update(review_risk=0.0)

    page = browser.launch("a", user="student-7", context="bio", link="link-1", question=str(question.pk))
    browser.submit_form(page, answer="Water goes across the membrane to where there is more dissolved stuff.")

    submission = wait_until(lambda: Submission.objects.filter(status=Submission.Status.NEEDS_REVIEW).first())
    [held] = wait_until(lambda: platform.state()["scores"])
    assert held["gradingProgress"] == "PendingManual" and "scoreGiven" not in held
    assert held["userId"] == "student-7" and held["lineitem"] == "link-1"
    assert "your teacher will review" in browser.session.get(page.url).text

    platform.fail_next_scores(1)
    teacher = question.course.teachers.get()
    correction_create(submission=submission, teacher=teacher, points=Decimal("3.5"))

    final = wait_until(lambda: [s for s in platform.state()["scores"] if s["gradingProgress"] == "FullyGraded"])
    assert [(score["scoreGiven"], score["scoreMaximum"], score["userId"]) for score in final] == [
        (3.5, 4.0, "student-7")
    ]
    assert len(platform.state()["scores"]) == 2  # nothing posted twice
    last = ScorePassback.objects.get(status=ScorePassback.Status.SUCCEEDED, score__gradingProgress="FullyGraded")
    assert last.attempts == 2 and last.last_status_code is None
    assert platform.state()["token_requests"] == 1  # the platform's access token is reused until it expires
    assert "Graded: <strong>3.50 / 4.00</strong>" in browser.session.get(page.url).text


def test_released_auto_grade_is_posted_fully_graded(
    base_model_version, registered, platform, browser, celery_worker_process
):
    item = _deep_link_new_question(browser, platform)
    # No auto grade waits for a teacher.
    Question.objects.filter(pk=int(item["custom"]["grader_question"])).update(review_risk=1.0)

    page = browser.launch(
        "a", user="student-9", context="bio", link="link-2", question=item["custom"]["grader_question"]
    )
    browser.submit_form(page, answer="Water moves through a membrane toward the side with more solute.")

    [score] = wait_until(lambda: platform.state()["scores"])
    submission = Submission.objects.get()
    assert submission.status == Submission.Status.GRADED
    assert score["gradingProgress"] == "FullyGraded"
    assert score["scoreGiven"] == float(submission.points) and score["userId"] == "student-9"
