"""In a real browser (Debian's Chromium, headless): a student answers inside an iframe of the LMS's course page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from grader.lti.models import LtiContext
from grader.models import Submission
from grader.services.courses import question_create
from tests.workspace.test_browser import _shot, browser, screenshot_dir  # noqa: F401 - the Chromium fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def test_student_answers_inside_the_lms_frame(registered, platform, browser, live_server, screenshot_dir):  # noqa: F811
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
    _shot(page, screenshot_dir, "lti-student-in-lms-frame")
    submission = Submission.objects.get()
    assert submission.answer == "Water crosses the membrane to where more solute is."
    assert submission.student_ref.endswith(":student-7")


def test_operator_sees_the_values_for_the_lms(db, live_server, browser, screenshot_dir):  # noqa: F811
    get_user_model().objects.create_superuser("operator", password="pw-operator-123")
    page = browser.new_context(viewport={"width": 1400, "height": 700}).new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/lti/platform/tool-configuration/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw-operator-123")
    page.click("input[type=submit]")

    table = page.locator("#lti-tool-configuration").inner_text()

    assert f"{live_server.url}/lti/login/" in table and f"{live_server.url}/lti/jwks/" in table
    _shot(page, screenshot_dir, "lti-tool-configuration")
