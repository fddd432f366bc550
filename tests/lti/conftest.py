"""LTI tests: grader (pytest-django's live server) against a platform from the package index in its own process."""

from __future__ import annotations

import html
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from grader.lti.models import Platform

PLATFORM_APP = Path(__file__).with_name("platform_app.py")


@dataclass
class TestPlatform:
    """The platform process: two LMSs (``a`` and ``b``) at ``url``."""

    url: str

    def issuer(self, name: str) -> str:
        return f"{self.url}/{name}"

    def state(self) -> dict:
        return requests.get(f"{self.url}/_state", timeout=10).json()

    def fail_next_scores(self, count: int) -> None:
        requests.post(f"{self.url}/_fail_scores", params={"count": count}, timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def platform(live_server) -> Iterator[TestPlatform]:
    port = _free_port()
    # The platform is named by the live server's host name: both on one site over plain HTTP, where browsers
    # keep grader's cookies inside the platform's frame without the SameSite=None; Secure that HTTPS gets
    # (test_tool_pages checks those attributes).
    host = urlsplit(live_server.url).hostname
    process = subprocess.Popen(
        [sys.executable, str(PLATFORM_APP), str(port), live_server.url, host],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if "platform ready" in line or process.poll() is not None:
            break
    if process.poll() is not None:
        raise RuntimeError("the test platform did not start:\n" + "".join(seen))
    yield TestPlatform(url=f"http://{host}:{port}")
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def registered(platform: TestPlatform) -> dict[str, Platform]:
    """Both LMSs registered by an operator, as the admin page asks for them."""
    return {
        name: Platform.objects.create(
            name=f"LMS {name}",
            issuer=platform.issuer(name),
            client_id=f"grader-{name}",
            deployment_ids=["deployment-1"],
            auth_login_url=f"{platform.issuer(name)}/authorize",
            auth_token_url=f"{platform.issuer(name)}/token",
            key_set_url=f"{platform.issuer(name)}/jwks",
        )
        for name in ("a", "b")
    }


@dataclass
class Browser:
    """What a person's browser does between the LMS and grader: follows redirects, submits the auto-posting forms,
    keeps cookies. ``last_launch`` is the launch form it posted, for a replay."""

    platform: TestPlatform
    session: requests.Session = field(default_factory=requests.Session)
    last_launch: dict = field(default_factory=dict)

    def launch(self, name: str, **params: str) -> requests.Response:
        start = self.session.get(f"{self.platform.issuer(name)}/start", params=params, allow_redirects=False)
        assert start.status_code == 302, start.text
        # grader's login URL answers with a redirect to the platform's authorization endpoint (OIDC).
        authorize = self.session.get(start.headers["Location"], allow_redirects=True)
        assert authorize.status_code == 200, authorize.text
        action, fields = parse_form(authorize.text)
        self.last_launch = {"action": action, "fields": fields}
        return self.session.post(action, data=fields)

    def replay_launch(self) -> requests.Response:
        return self.session.post(self.last_launch["action"], data=self.last_launch["fields"])

    def submit_form(self, page: requests.Response, **values: str) -> requests.Response:
        action, fields = parse_form(page.text)
        fields.update(values)
        return self.session.post(requests.compat.urljoin(page.url, action), data=fields, headers={"Referer": page.url})


def parse_form(page: str) -> tuple[str, dict[str, str]]:
    """The first form's action and its hidden inputs (and the CSRF token)."""
    action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page).group(1))
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }
    return action, fields


@pytest.fixture
def browser(platform: TestPlatform) -> Iterator[Browser]:
    browser = Browser(platform=platform)
    yield browser
    # A kept-alive connection holds a live-server thread, and its database connection, past the test.
    browser.session.close()
