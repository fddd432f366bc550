"""In a real browser (Debian's Chromium, headless): a student answers inside an iframe of the LMS's course page."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grader.lti.models import LtiContext
from grader.models import Submission
from grader.services.courses import question_create
from tests.workspace.test_browser import browser  # noqa: F401 - the Chromium fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_student_answers_inside_the_lms_frame(registered, platform, browser, live_server):  # noqa: F811
    from tests.lti.conftest import Browser

    Browser(platform=platform).launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    question = question_create(
        course=LtiContext.objects.get().course,
        key="osmosis",
        prompt="What is osmosis?",
        max_points=Decimal("4"),
        reference_answers=["Water moves through a membrane toward the higher solute concentration."],
    )
    page = browser.new_context().new_page()

    page.goto(f"{platform.issuer('a')}/course?user=student-7&context=bio&link=link-1&question={question.pk}")
    frame = page.frame_locator("#tool")
    frame.locator("#prompt").wait_for()
    assert "What is osmosis?" in frame.locator("#prompt").inner_text()
    frame.locator("#answer-field").fill("Water crosses the membrane to where more solute is.")
    frame.locator("button[type=submit]").click()
    frame.locator("#status").wait_for()

    assert "being graded" in frame.locator("#status").inner_text()
    submission = Submission.objects.get()
    assert submission.answer == "Water crosses the membrane to where more solute is."
    assert submission.student_ref.endswith(":student-7")
