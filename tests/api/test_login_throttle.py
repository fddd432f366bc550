"""Guessing a teacher's password over HTTP Basic: a few failures per client address, then 429 before any hash."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework import authentication

from grader.models import Correction
from tests.api.conftest import basic


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Usernames of the credentials checked against the database (each check is a slow password hash)."""
    real_authenticate = authentication.authenticate
    checked = []

    def counting_authenticate(request=None, **credentials):
        checked.append(credentials.get("username"))
        return real_authenticate(request=request, **credentials)

    monkeypatch.setattr(authentication, "authenticate", counting_authenticate)
    return checked


def _correct(client, submission) -> int:
    url = f"/api/v1/submissions/{submission.pk}/corrections/"
    return client.post(url, {"points": "4"}, format="json").status_code


def test_repeated_wrong_passwords_get_429_without_hashing(teacher, owned_submission, hashes, settings):
    settings.GRADER_LOGIN_FAILURE_RATE = "5/min"
    statuses = [_correct(basic("ada", f"guess-{n}"), owned_submission) for n in range(30)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    assert len(hashes) == 5

    # The budget is the address's: the right password waits too, then works once the window has passed.
    response = basic("ada", "ada-password-1").post(
        f"/api/v1/submissions/{owned_submission.pk}/corrections/", {"points": "4"}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled" and int(response["Retry-After"]) >= 1
    assert not Correction.objects.exists()


def test_a_teacher_who_logs_in_correctly_is_never_throttled_by_the_failure_budget(teacher, owned_submission, settings):
    settings.GRADER_LOGIN_FAILURE_RATE = "2/min"
    statuses = [_correct(basic("ada", "ada-password-1"), owned_submission) for _ in range(4)]
    assert statuses == [201] * 4
    assert Correction.objects.filter(points=Decimal("4")).count() == 4
