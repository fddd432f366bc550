"""The score outbox against the real platform, one attempt at a time (the task's timer stands aside): a duplicate
delivery posts nothing, a newer score supersedes an unsent one, a platform that keeps failing ends in failed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from grader.lti.models import LtiContext, ScorePassback
from grader.lti.passback import lti_score_post
from grader.models import ModelVersion, Question, Submission
from grader.services.courses import question_create
from grader.services.model_versions import model_version_activate
from grader.services.regrading import submissions_regrade
from grader.services.submissions import correction_create, submission_grade

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lti_submission(registered, browser) -> Submission:
    """A student's answer submitted in the LMS, not graded yet (no worker runs here)."""
    browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    question = question_create(
        course=LtiContext.objects.get().course,
        key="photosynthesis",
        prompt="What is photosynthesis?",
        max_points=Decimal("2"),
        reference_answers=["Plants use light to turn water and carbon dioxide into sugar and oxygen."],
    )
    page = browser.launch("a", user="student-7", context="bio", link="link-1", question=str(question.pk))
    browser.submit_form(page, answer="Plants make sugar and oxygen from water and carbon dioxide using light.")
    return Submission.objects.get()


def _teacher():
    return get_user_model().objects.get(username__startswith="lti-")


def _due_now() -> None:
    # Stands in for the task's countdown elapsing.
    ScorePassback.objects.filter(status=ScorePassback.Status.PENDING).update(next_attempt_at=timezone.now())


def test_an_ungraded_submission_records_no_score(lti_submission):
    assert not ScorePassback.objects.exists()


def test_a_second_delivery_of_the_task_posts_nothing(lti_submission, platform):
    correction_create(submission=lti_submission, teacher=_teacher(), points=Decimal("1.5"))
    [passback] = ScorePassback.objects.all()

    first = lti_score_post(passback_id=passback.pk)
    second = lti_score_post(passback_id=passback.pk)

    assert first.succeeded and not second.sent
    [score] = platform.state()["scores"]
    assert score["scoreGiven"] == 1.5 and score["scoreMaximum"] == 2.0 and score["gradingProgress"] == "FullyGraded"


def test_a_newer_score_supersedes_one_not_yet_sent(lti_submission, platform):
    correction_create(submission=lti_submission, teacher=_teacher(), points=Decimal("1"))
    correction_create(submission=lti_submission, teacher=_teacher(), points=Decimal("2"))
    older, newer = ScorePassback.objects.order_by("pk")

    assert not lti_score_post(passback_id=older.pk).sent
    assert lti_score_post(passback_id=newer.pk).succeeded

    older.refresh_from_db()
    assert older.status == ScorePassback.Status.SUPERSEDED
    assert [score["scoreGiven"] for score in platform.state()["scores"]] == [2.0]


def test_a_failed_score_is_superseded_rather_than_retried_after_a_newer_one(lti_submission, platform):
    correction_create(submission=lti_submission, teacher=_teacher(), points=Decimal("1"))
    [older] = ScorePassback.objects.all()
    platform.fail_next_scores(1)
    # The older score is on its way when the teacher changes the grade again.
    ScorePassback.objects.filter(pk=older.pk).update(status=ScorePassback.Status.SENDING)
    correction_create(submission=lti_submission, teacher=_teacher(), points=Decimal("2"))
    ScorePassback.objects.filter(pk=older.pk).update(status=ScorePassback.Status.PENDING)

    outcome = lti_score_post(passback_id=older.pk)

    older.refresh_from_db()
    assert outcome.sent and outcome.retry_in is None and older.status == ScorePassback.Status.SUPERSEDED
    assert older.last_status_code == 500


def test_a_platform_that_keeps_failing_ends_in_failed_after_the_last_attempt(lti_submission, platform, settings):
    settings.GRADER_LTI_SCORE_MAX_ATTEMPTS = 3
    correction_create(submission=lti_submission, teacher=_teacher(), points=Decimal("1"))
    [passback] = ScorePassback.objects.all()
    platform.fail_next_scores(3)

    outcomes = []
    for _ in range(3):
        _due_now()
        outcomes.append(lti_score_post(passback_id=passback.pk))

    passback.refresh_from_db()
    assert [outcome.retry_in is not None for outcome in outcomes] == [True, True, False]
    assert passback.status == ScorePassback.Status.FAILED and passback.attempts == 3
    assert passback.last_status_code == 500 and not platform.state()["scores"]


def test_grading_and_a_regrade_that_changes_the_grade_each_record_a_score(lti_submission, base_model_version):
    question = lti_submission.question
    Question.objects.filter(pk=question.pk).update(review_risk=1.0)  # the auto grade is released
    assert submission_grade(submission_id=lti_submission.pk)
    lti_submission.refresh_from_db()
    assert lti_submission.status == Submission.Status.GRADED, lti_submission.review_reasons
    [graded] = ScorePassback.objects.all()
    assert graded.score["gradingProgress"] == "FullyGraded" and graded.score["userId"] == "student-7"

    twin = ModelVersion.objects.create(
        name="twin", parent=base_model_version, artifact_path="base", sha256=base_model_version.sha256
    )
    model_version_activate(version=twin)
    Question.objects.filter(pk=question.pk).update(review_risk=0.0)  # now every auto grade waits for a teacher
    assert submissions_regrade(question_ids=[question.pk]) == 1

    graded.refresh_from_db()
    held = ScorePassback.objects.exclude(pk=graded.pk).get()
    assert held.score["gradingProgress"] == "PendingManual" and "scoreGiven" not in held.score
    assert graded.status == ScorePassback.Status.SUPERSEDED  # never sent: the gradebook gets only the current one
