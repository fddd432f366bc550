"""The OpenAPI schema is generated from the code, valid, and not public; so are its Swagger UI and ReDoc pages."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


def test_schema_is_valid_without_warnings(tmp_path):
    # The same command CI runs; warnings fail it (e.g. an untyped field or an unresolvable serializer).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/submissions/bulk/" in schema and "IntegrationToken" in schema


def test_schema_needs_a_token_or_staff(owner, stranger, client):
    assert stranger.client.get("/api/v1/schema/").status_code == 401
    response = owner.client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
    user = get_user_model().objects.create_user("plain", password="plain-password-1")
    client.force_login(user)
    assert client.get("/api/v1/schema/").status_code == 403


@pytest.mark.parametrize(("path", "marker"), [("/api/v1/docs/", b"swagger-ui"), ("/api/v1/redoc/", b"redoc")])
def test_docs_pages_are_served_to_staff_only(admin_client, client, path, marker):
    assert client.get(path).status_code == 401
    response = admin_client.get(path)
    assert response.status_code == 200
    assert marker in response.content.lower()


def test_unrouted_api_url_gets_the_json_404(owner):
    response = owner.client.get("/api/v1/submissions/0.5/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
