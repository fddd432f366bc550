"""The active model version grades every course: only an operator retrains, activates, rolls back or dry-runs."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from grader import dispatch
from grader.models import ModelVersion, TrainingRun

TEACHER_PERMISSIONS = Permission.objects.filter(content_type__app_label="grader").exclude(codename="operate_models")


@pytest.fixture
def teacher_client(client, demo_course):
    """A course teacher as README describes one: staff, the grader permissions a teacher is given."""
    user = get_user_model().objects.create_user("ada", is_staff=True)
    user.user_permissions.set(TEACHER_PERMISSIONS)
    demo_course.teachers.add(user)
    client.force_login(user)
    return client


@pytest.fixture
def operator_client(client, db):
    """Staff but not superuser: the operator permission alone opens the lifecycle."""
    user = get_user_model().objects.create_user("ops", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_modelversion", "operate_models"]))
    client.force_login(user)
    return client


@pytest.fixture
def two_versions(base_model_version) -> tuple[ModelVersion, ModelVersion]:
    older = ModelVersion.objects.create(
        name="older", parent=base_model_version, artifact_path="base", sha256=base_model_version.sha256
    )
    return base_model_version, older


def test_a_teacher_cannot_retrain_now(teacher_client, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(dispatch, "_publish", lambda task, **kwargs: queued.append(task))
    with django_capture_on_commit_callbacks(execute=True):
        response = teacher_client.post(reverse("admin:grader_trainingrun_retrain"))
    assert response.status_code == 403
    assert queued == []
    page = teacher_client.get(reverse("admin:grader_trainingrun_changelist"))
    assert page.status_code == 200 and b"Retrain now" not in page.content


@pytest.mark.parametrize("action", ["activate", "dry_run_diff", "delete_selected"])
def test_a_teacher_cannot_change_the_active_version_from_the_admin(
    teacher_client, two_versions, action, monkeypatch, django_capture_on_commit_callbacks
):
    active, older = two_versions
    queued = []
    monkeypatch.setattr(dispatch, "_publish", lambda task, **kwargs: queued.append(task))
    with django_capture_on_commit_callbacks(execute=True):
        teacher_client.post(
            reverse("admin:grader_modelversion_changelist"),
            {"action": action, "_selected_action": [older.pk], "post": "yes"},
        )
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == active
    assert ModelVersion.objects.filter(pk=older.pk).exists()
    assert queued == []


def test_a_teacher_still_sees_versions_runs_and_metrics(teacher_client, two_versions):
    active, _ = two_versions
    TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED)
    listing = teacher_client.get(reverse("admin:grader_modelversion_changelist"))
    assert listing.status_code == 200 and b"older" in listing.content
    assert b'value="activate"' not in listing.content
    assert teacher_client.get(reverse("admin:grader_modelversion_change", args=[active.pk])).status_code == 200
    assert teacher_client.get(reverse("admin:grader_trainingrun_changelist")).status_code == 200


def test_the_operator_permission_alone_activates_a_version(operator_client, two_versions):
    _, older = two_versions
    response = operator_client.post(
        reverse("admin:grader_modelversion_changelist"), {"action": "activate", "_selected_action": [older.pk]}
    )
    assert response.status_code == 302
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == older
