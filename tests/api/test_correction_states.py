"""Only a graded answer, or one awaiting review, takes a correction, whoever records it."""

from __future__ import annotations

import pytest

from grader.models import Correction, IntegrationScope, Submission
from grader.services.integrations import integration_create
from tests.api.conftest import basic, bearer


@pytest.fixture
def gradebook(demo_course):
    _, token = integration_create(name="gradebook", courses=[demo_course], scopes=[IntegrationScope.CORRECTIONS_WRITE])
    return bearer(token)


def _correct(client, submission, **extra):
    url = f"/api/v1/submissions/{submission.pk}/corrections/"
    return client.post(url, {"points": "2", **extra}, format="json")


@pytest.mark.parametrize("status", [Submission.Status.QUEUED, Submission.Status.GRADING, Submission.Status.FAILED])
def test_an_ungraded_submission_takes_no_correction(gradebook, teacher, owned_submission, status):
    Submission.objects.filter(pk=owned_submission.pk).update(status=status)
    by_token = _correct(gradebook, owned_submission, teacher="ada")
    by_teacher = _correct(basic("ada", "ada-password-1"), owned_submission)
    assert (by_token.status_code, by_teacher.status_code) == (400, 400)
    assert "graded" in by_token.json()["error"]["message"]
    assert not Correction.objects.exists()
    assert Submission.objects.get(pk=owned_submission.pk).status == status


@pytest.mark.parametrize("status", [Submission.Status.GRADED, Submission.Status.NEEDS_REVIEW])
def test_a_graded_or_waiting_submission_takes_one(gradebook, teacher, owned_submission, status):
    Submission.objects.filter(pk=owned_submission.pk).update(status=status)
    assert _correct(gradebook, owned_submission, teacher="ada").status_code == 201
    assert Correction.objects.get().teacher == teacher
