"""Webhook endpoints and deliveries serve integrations of several schools: the admin shows them to superusers only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from grader.models import WebhookDelivery, WebhookEndpoint
from grader.services.integrations import integration_create


@pytest.fixture
def endpoint(demo_course) -> WebhookEndpoint:
    integration, _ = integration_create(name="other-school-lms", courses=[demo_course])
    return WebhookEndpoint.objects.create(integration=integration, url="https://lms.example/hook", secret="whsec_x")


@pytest.fixture
def teacher_client(client, demo_course):
    """A teacher given every webhook permission by mistake still sees nothing of the integrations."""
    user = get_user_model().objects.create_user("ada", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="grader"))
    demo_course.teachers.add(user)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["webhookendpoint", "webhookdelivery"])
def test_a_teacher_cannot_open_the_webhook_admin(teacher_client, endpoint, model):
    response = teacher_client.get(f"/admin/grader/{model}/")
    assert response.status_code == 403
    assert b"other-school-lms" not in response.content


def test_a_teacher_cannot_open_change_or_delete_an_endpoint(teacher_client, endpoint):
    assert teacher_client.get(f"/admin/grader/webhookendpoint/{endpoint.pk}/change/").status_code == 403
    teacher_client.post(f"/admin/grader/webhookendpoint/{endpoint.pk}/change/", {"is_active": ""})
    teacher_client.post(f"/admin/grader/webhookendpoint/{endpoint.pk}/delete/", {"post": "yes"})
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_the_admin_index_does_not_list_webhooks_for_a_teacher(teacher_client, endpoint):
    assert b"webhookendpoint" not in teacher_client.get("/admin/").content


def test_a_superuser_sees_every_integrations_endpoints(admin_client, endpoint):
    WebhookDelivery.objects.create(endpoint=endpoint, event_id="2f0c1d2e-0000-4000-8000-000000000000", body="{}")
    assert b"other-school-lms" in admin_client.get("/admin/grader/webhookendpoint/").content
    assert admin_client.get("/admin/grader/webhookdelivery/").status_code == 200
