"""LTI Dynamic Registration from a one-time link an operator made: the LMS's configuration exchanged with grader's,
the platform registered and launching at once; a used or unknown link registers nothing."""

from __future__ import annotations

import re

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from grader.lti.models import LtiContext, Platform, RegistrationLink
from grader.lti.registration import registration_link_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator():
    return get_user_model().objects.create_superuser("operator", "op@example.com", "pw-operator-1")


def _register(live_server, platform, token: str, name: str = "a") -> requests.Response:
    return requests.get(
        f"{live_server.url}/lti/register/{token}/",
        params={
            "openid_configuration": f"{platform.issuer(name)}/.well-known/openid-configuration",
            "registration_token": f"reg-token-{name}",
        },
        timeout=30,
    )


def test_an_lms_registers_itself_with_an_operators_link_and_launches(operator, platform, browser, live_server):
    link = registration_link_create(created_by=operator)

    page = _register(live_server, platform, link.token)

    assert page.status_code == 200 and "grader is registered" in page.text
    registered = Platform.objects.get()
    assert (registered.issuer, registered.client_id, registered.deployment_ids) == (
        platform.issuer("a"),
        "grader-a",
        ["deployment-1"],
    )
    assert registered.key_set_url == f"{platform.issuer('a')}/jwks"
    [sent] = platform.state()["registrations"]
    assert sent["initiate_login_uri"] == f"{live_server.url}/lti/login/"
    assert sent["jwks_uri"] == f"{live_server.url}/lti/jwks/"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"].split()
    # The new registration works for launches right away.
    launched = browser.launch("a", user="teacher-1", role="instructor", context="bio", link="link-1")
    assert launched.status_code == 200 and LtiContext.objects.get().platform == registered


def test_a_link_registers_once_and_an_unknown_one_never(operator, platform, live_server):
    link = registration_link_create(created_by=operator)
    assert _register(live_server, platform, link.token).status_code == 200

    again = _register(live_server, platform, link.token, name="b")
    unknown = _register(live_server, platform, "not-a-link", name="b")

    assert again.status_code == 404 and unknown.status_code == 404
    assert "unknown, used or expired" in again.text
    assert list(Platform.objects.values_list("client_id", flat=True)) == ["grader-a"]


def test_a_failed_exchange_leaves_the_link_usable(operator, platform, live_server):
    link = registration_link_create(created_by=operator)
    refused = requests.get(
        f"{live_server.url}/lti/register/{link.token}/",
        params={
            "openid_configuration": f"{platform.issuer('a')}/.well-known/openid-configuration",
            "registration_token": "wrong",
        },
        timeout=30,
    )

    assert refused.status_code == 400 and not Platform.objects.exists()
    assert _register(live_server, platform, link.token).status_code == 200


def test_only_an_operator_makes_a_registration_link(operator):
    client = Client()
    teacher = get_user_model().objects.create_user("teacher", password="pw-teacher-1", is_staff=True)
    client.force_login(teacher)
    assert client.post("/admin/lti/platform/registration-link/").status_code == 403

    client.force_login(operator)
    page = client.post("/admin/lti/platform/registration-link/").content.decode()

    url = re.search(r'id="registration-url">([^<]+)<', page).group(1)
    assert url.startswith("http://testserver/lti/register/")
    assert RegistrationLink.objects.get().token == url.rstrip("/").rsplit("/", 1)[1]
