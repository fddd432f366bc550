"""Launches from a real platform (lti1p3platform, its own process): what a good one creates, and bad ones refused
with a clear page and nothing created."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest

from grader.lti.models import LtiContext, LtiLaunch, LtiResourceLink
from grader.lti.services import LaunchRefused, lti_launch_accept
from grader.models import Course, Question, Submission
from grader.services.courses import question_create
from tests.lti.conftest import parse_form

pytestmark = pytest.mark.django_db(transaction=True)


def _nothing_created() -> None:
    assert not Course.objects.exists()
    assert not LtiContext.objects.exists()
    assert not LtiResourceLink.objects.exists()
    assert not LtiLaunch.objects.exists()


def test_instructor_launch_creates_the_course_and_makes_them_its_teacher(registered, browser):
    page = browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")

    assert page.status_code == 200, page.text
    context = LtiContext.objects.get(platform=registered["a"], context_id="bio")
    teacher = context.course.teachers.get()
    assert teacher.is_staff and not teacher.has_usable_password()
    assert "Open the grading workspace" in page.text
    # A second launch of the same course and person reuses both.
    browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    assert LtiContext.objects.count() == 1 and context.course.teachers.count() == 1


def test_teaching_assistant_becomes_a_teacher_of_the_course(registered, browser):
    page = browser.launch("a", user="ta-1", role="ta", context="bio", link="link-1")

    assert page.status_code == 200 and "Open the grading workspace" in page.text
    assert LtiContext.objects.get().course.teachers.count() == 1


def test_student_launch_shows_the_linked_question_and_submits_once_per_attempt(registered, browser, live_server):
    browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    course = LtiContext.objects.get().course
    question = question_create(
        course=course,
        key="osmosis",
        prompt="What is osmosis?",
        max_points=Decimal("4"),
        reference_answers=["Water moves through a membrane toward the higher solute concentration."],
    )

    page = browser.launch("a", user="student-7", context="bio", link="link-1", question=str(question.pk))

    assert page.status_code == 200 and "What is osmosis?" in page.text
    assert page.url.startswith(live_server.url + "/lti/attempt/")
    answer = "Water crosses the membrane to where more solute is."
    after = browser.submit_form(page, answer=answer)
    assert after.status_code == 200 and "being graded" in after.text
    again = browser.submit_form(page, answer="a second try with the same form")
    assert again.status_code == 200
    submission = Submission.objects.get()
    assert submission.answer == answer and submission.question == question
    assert submission.student_ref == f"lti:{registered['a'].pk}:student-7"
    assert LtiLaunch.objects.get(kind="student").submission == submission


def test_answer_form_refuses_a_post_without_csrf_token(registered, browser):
    browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    question = question_create(
        course=LtiContext.objects.get().course,
        key="q",
        prompt="Why?",
        max_points=Decimal("2"),
        reference_answers=["Because."],
    )
    page = browser.launch("a", user="student-7", context="bio", link="link-1", question=str(question.pk))

    forged = browser.session.post(page.url, data={"answer": "posted from another site"})

    assert forged.status_code == 403
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("forged", "Signature verification failed"),
        ("expired", "Signature has expired"),
        ("audience", "Registration not found"),
        ("deployment", 'deployment ID "unknown-deployment" is not recognised'),
    ],
)
def test_bad_id_token_is_refused_with_a_clear_page_and_nothing_created(registered, browser, tamper, reason):
    page = browser.launch("a", user="student-7", context="bio", link="link-1", tamper=tamper)

    assert page.status_code == 400
    text = html.unescape(page.text)
    assert "This launch could not be verified" in text and reason in text
    _nothing_created()


def test_replayed_launch_is_refused(registered, browser):
    first = browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    assert first.status_code == 200

    replay = browser.replay_launch()

    assert replay.status_code == 400 and "already used" in replay.text
    assert LtiLaunch.objects.count() == 1


def test_launch_naming_another_platforms_question_is_refused_and_creates_nothing(registered, browser):
    browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    their_question = question_create(
        course=LtiContext.objects.get().course,
        key="secret",
        prompt="Platform a's question",
        max_points=Decimal("2"),
        reference_answers=["Only for a."],
    )

    for role in ("learner", "instructor"):
        page = browser.launch(
            "b", user="intruder", role=role, context="bio", link="link-1", question=str(their_question.pk)
        )
        assert page.status_code == 403
        assert "not part of this course" in page.text and "Platform a's question" not in page.text

    assert not LtiContext.objects.filter(platform=registered["b"]).exists()
    assert Course.objects.count() == 1 and Question.objects.count() == 1
    assert LtiLaunch.objects.count() == 1  # platform a's instructor launch only


def test_student_launch_into_a_link_without_question_explains_it(registered, browser):
    page = browser.launch("a", user="student-7", context="bio", link="link-unset")

    assert page.status_code == 403 and "has no question yet" in page.text
    assert not LtiLaunch.objects.exists()


def test_deep_linking_refuses_a_question_of_another_course_and_returns_nothing(registered, browser):
    browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    other = question_create(
        course=Course.objects.create(code="chem", name="Another course"),
        key="acids",
        prompt="Another course's question",
        max_points=Decimal("2"),
        reference_answers=["Only there."],
    )
    page = browser.launch("a", user="teacher-1", role="instructor", context="bio", message="deep")
    assert "Another course's question" not in page.text

    answer = browser.submit_form(page, question=str(other.pk))

    assert answer.status_code == 200 and "not part of this course" in html.unescape(answer.text)
    assert 'name="JWT"' not in answer.text
    assert not browser.platform.state()["content_items"]


def test_students_cannot_open_the_deep_linking_picker(registered, browser):
    page = browser.launch("a", user="student-7", context="bio", message="deep")

    assert page.status_code == 403 and "Only an instructor" in page.text
    _nothing_created()


def test_an_id_token_posted_from_another_browser_is_refused(registered, browser, platform):
    # Someone who got hold of the launch form's values (not the state cookie grader set in the student's browser).
    from tests.lti.conftest import Browser

    start = browser.session.get(
        f"{platform.issuer('a')}/start",
        params={"user": "student-7", "context": "bio", "link": "link-1"},
        allow_redirects=True,
    )
    action, fields = parse_form(start.text)

    with Browser(platform=platform).session as elsewhere:
        stolen = elsewhere.post(action, data=fields)

    assert stolen.status_code == 400 and "State not found" in stolen.text
    _nothing_created()


def test_launch_kinds_grader_has_no_page_for_are_refused(registered):
    claims = {
        "sub": "student-7",
        "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiSubmissionReviewRequest",
        "https://purl.imsglobal.org/spec/lti/claim/context": {"id": "bio"},
    }

    with pytest.raises(LaunchRefused, match="does not support LtiSubmissionReviewRequest"):
        lti_launch_accept(platform=registered["a"], claims=claims, is_instructor=True)
    _nothing_created()


def test_instructor_chooses_the_question_of_a_link_placed_by_hand(registered, browser):
    browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    course = LtiContext.objects.get().course
    ours = question_create(
        course=course, key="osmosis", prompt="What is osmosis?", max_points=Decimal("4"), reference_answers=["Water."]
    )
    theirs = question_create(
        course=Course.objects.create(code="chem", name="Another course"),
        key="acids",
        prompt="Another course's question",
        max_points=Decimal("2"),
        reference_answers=["Only there."],
    )
    page = browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-hand")
    assert "What is osmosis?" in page.text and "Another course's question" not in page.text

    refused = browser.submit_form(page, question=str(theirs.pk))
    chosen = browser.submit_form(page, question=str(ours.pk))

    assert "not part of this course" in html.unescape(refused.text)
    assert chosen.status_code == 200 and 'id="prompt">What is osmosis?' in chosen.text
    assert LtiResourceLink.objects.get(resource_link_id="link-hand").question == ours
    student = browser.launch("a", user="student-7", context="bio", link="link-hand")
    assert student.status_code == 200 and "What is osmosis?" in student.text
