"""The authentication scheme is case-insensitive, and the schema's errors have the API's JSON error shape."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "Token", "token"])
def test_the_token_scheme_is_case_insensitive(integration_and_token, scheme):
    _, token = integration_and_token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    assert client.get("/api/v1/courses/").status_code == 200


def test_a_wrong_token_under_a_lower_case_scheme_is_refused(integration_and_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="bearer grd_not-a-token")
    response = client.get("/api/v1/courses/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize("accept", [None, "application/vnd.oai.openapi", "application/yaml", "*/*"])
def test_an_anonymous_schema_request_gets_the_json_error_shape(stranger, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = stranger.client.get("/api/v1/schema/", **headers)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_schema_itself_is_still_yaml_by_default(owner):
    response = owner.client.get("/api/v1/schema/")
    assert response.status_code == 200 and response.content.startswith(b"openapi:")
