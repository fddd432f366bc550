"""grader's side of the registration (keys, JWKS, the admin's configuration page), the framing rules of LTI pages,
and the instructor's way into the workspace."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from grader.lti.keys import tool_key_signing
from grader.lti.models import LtiContext, LtiLaunch, LtiResourceLink, Platform, ToolKey
from grader.models import Course
from grader.services.courses import question_create


@pytest.mark.django_db
def test_rotation_publishes_the_new_key_and_keeps_the_retired_one_for_a_while(client, settings):
    first = client.get("/lti/jwks/").json()["keys"]
    assert len(first) == 1 and "d" not in first[0]  # the public half only

    call_command("rotate_lti_key")

    keys = client.get("/lti/jwks/").json()["keys"]
    signing = tool_key_signing()
    assert [key["kid"] for key in keys] == [signing.kid, first[0]["kid"]]
    ToolKey.objects.exclude(pk=signing.pk).update(
        retired_at=timezone.now() - timedelta(days=settings.GRADER_LTI_RETIRED_KEY_DAYS + 1)
    )
    assert [key["kid"] for key in client.get("/lti/jwks/").json()["keys"]] == [signing.kid]


@pytest.mark.django_db
def test_configuration_page_shows_the_urls_an_lms_admin_enters_and_only_to_operators(client):
    operator = get_user_model().objects.create_superuser("operator", "op@example.com", "pw-operator-1")
    client.force_login(operator)

    page = client.get("/admin/lti/platform/tool-configuration/")

    assert page.status_code == 200
    text = page.content.decode()
    for url in ("http://testserver/lti/login/", "http://testserver/lti/launch/", "http://testserver/lti/jwks/"):
        assert url in text
    teacher = get_user_model().objects.create_user("teacher", password="pw-teacher-1", is_staff=True)
    client.force_login(teacher)
    assert client.get("/admin/lti/platform/tool-configuration/").status_code == 403
    assert client.get("/admin/lti/platform/").status_code == 403


@pytest.fixture
def student_launch(db) -> LtiLaunch:
    platform = Platform.objects.create(
        name="Moodle",
        issuer="https://moodle.example.edu",
        client_id="grader",
        deployment_ids=["1"],
        auth_login_url="https://moodle.example.edu/mod/lti/auth.php",
        auth_token_url="https://moodle.example.edu/mod/lti/token.php",
        key_set_url="https://moodle.example.edu/mod/lti/certs.php",
    )
    course = Course.objects.create(code="bio", name="Biology")
    context = LtiContext.objects.create(platform=platform, context_id="7", course=course)
    question = question_create(
        course=course, key="q", prompt="Why?", max_points=Decimal("2"), reference_answers=["Because."]
    )
    link = LtiResourceLink.objects.create(context=context, resource_link_id="r1", question=question)
    return LtiLaunch.objects.create(
        kind=LtiLaunch.Kind.STUDENT, token=secrets.token_urlsafe(32), context=context, resource_link=link, sub="s1"
    )


def test_lti_pages_may_be_framed_by_registered_platforms_only_and_nothing_else_may(student_launch, settings):
    settings.GRADER_LTI_FRAME_ANCESTORS = ["https://school.instructure.com"]
    client = Client()

    page = client.get(f"/lti/attempt/{student_launch.token}/")

    assert page.status_code == 200
    assert "X-Frame-Options" not in page.headers
    assert page.headers["Content-Security-Policy"] == (
        "frame-ancestors https://moodle.example.edu https://school.instructure.com"
    )
    assert client.get("/admin/login/").headers["X-Frame-Options"] == "DENY"


def test_lti_page_cookies_are_sent_from_inside_the_frame_over_https(student_launch, settings):
    settings.SECURE_SSL_REDIRECT = False
    client = Client()

    framed = client.get(f"/lti/attempt/{student_launch.token}/", secure=True)
    other = client.get("/admin/login/", secure=True)

    assert framed.cookies["csrftoken"]["samesite"] == "None" and framed.cookies["csrftoken"]["secure"]
    assert other.cookies["csrftoken"]["samesite"] == "Lax"


@pytest.mark.django_db(transaction=True)
def test_instructor_opens_the_workspace_of_the_question_once(registered, browser, live_server):
    browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    question = question_create(
        course=LtiContext.objects.get().course,
        key="q",
        prompt="Why?",
        max_points=Decimal("2"),
        reference_answers=["Because."],
    )
    page = browser.launch(
        "a", user="teacher-1", role="instructor", context="bio", link="link-1", question=str(question.pk)
    )
    link = re.search(r'id="workspace-link" href="([^"]+)"', page.text).group(1)

    workspace = browser.session.get(live_server.url + link)

    assert workspace.status_code == 200
    assert workspace.url.endswith(f"/admin/grader/submission/?question__id__exact={question.pk}")
    assert browser.session.get(live_server.url + link).status_code == 404  # the link works once


@pytest.mark.django_db
def test_operator_registers_a_platform_with_its_deployment_ids(client):
    client.force_login(get_user_model().objects.create_superuser("operator", "op@example.com", "pw-operator-1"))
    fields = {
        "name": "Moodle",
        "issuer": "https://moodle.example.edu",
        "client_id": "abc123",
        "auth_login_url": "https://moodle.example.edu/mod/lti/auth.php",
        "auth_token_url": "https://moodle.example.edu/mod/lti/token.php",
        "auth_audience": "",
        "key_set_url": "https://moodle.example.edu/mod/lti/certs.php",
        "is_active": "on",
    }

    refused = client.post("/admin/lti/platform/add/", {**fields, "deployment_ids": '"1"'})
    added = client.post("/admin/lti/platform/add/", {**fields, "deployment_ids": '["1", "7"]'})

    assert refused.status_code == 200 and "A JSON list of the deployment IDs" in refused.content.decode()
    assert added.status_code == 302
    assert Platform.objects.get().deployment_ids == ["1", "7"]
