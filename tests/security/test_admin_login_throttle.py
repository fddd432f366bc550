"""Guessing a password at the admin's login page: a few failures per client address, then refused without a hash."""

from __future__ import annotations

import pytest
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.core.cache import cache


@pytest.fixture
def staff(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield get_user_model().objects.create_user("ada", password="right-password", is_staff=True)
    cache.clear()


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    real_authenticate = auth_forms.authenticate
    checked = []

    def counting_authenticate(request=None, **credentials):
        checked.append(credentials.get("username"))
        return real_authenticate(request, **credentials)

    monkeypatch.setattr(auth_forms, "authenticate", counting_authenticate)
    return checked


def _login(client, password: str):
    return client.post("/admin/login/", {"username": "ada", "password": password, "next": "/admin/"})


def test_repeated_wrong_passwords_are_refused_without_hashing(client, staff, hashes, settings):
    settings.GRADER_LOGIN_FAILURE_RATE = "3/min"
    for attempt in range(6):
        assert _login(client, f"guess-{attempt}").status_code == 200
    assert len(hashes) == 3
    refused = _login(client, "right-password")
    assert refused.status_code == 200 and b"Too many failed logins" in refused.content
    assert "_auth_user_id" not in client.session
    assert len(hashes) == 3


def test_a_correct_login_is_not_held_back_by_the_budget(client, staff, settings):
    settings.GRADER_LOGIN_FAILURE_RATE = "3/min"
    for _ in range(5):
        assert _login(client, "right-password").status_code == 302
        client.logout()
