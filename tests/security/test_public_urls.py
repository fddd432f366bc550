"""Nothing is public except the health endpoints, the admin's login page and LTI's public keyset and login
initiation: every other URL the project routes (API, admin, LTI pages, and the schema and docs pages once they
exist) refuses an anonymous caller.
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

# LMS platforms fetch grader's JWKS and start the OIDC login anonymously; the login then refuses a request that
# names no registered platform (400), and every LTI page after it needs the platform's signed launch.
PUBLIC = {"/healthz", "/readyz", "/admin/login/", "/lti/jwks/", "/lti/login/"}


def routed_paths(resolver: URLResolver, prefix: str = "") -> list[str]:
    """A concrete path for every URL pattern, path parameters filled with 1 (object pages then say 404, not 200)."""
    paths = []
    for pattern in resolver.url_patterns:
        route = prefix + _concrete(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths.extend(routed_paths(pattern, route))
        elif isinstance(pattern, URLPattern):
            paths.append("/" + route)
    return sorted(set(paths))


def _concrete(pattern) -> str:
    text = str(pattern)
    text = re.sub(r"<(?:\w+:)?\w+>", "1", text)  # path converters
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "1", text)  # named regex groups
    text = text.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\.", ".").replace("?", "")
    return text


def test_every_routed_url_except_health_and_login_refuses_anonymous_callers(db):
    client = Client()
    paths = routed_paths(get_resolver())
    assert "/api/v1/submissions/" in paths and "/readyz" in paths  # the walk found the routes
    exposed = {}
    for path in paths:
        if path in PUBLIC:
            continue
        response = client.get(path)
        if response.status_code == 302:
            # To the login page, or (logout) to the admin index, which itself sends to the login page.
            assert response["Location"].startswith(("/admin/login/", "/admin/")), (path, response["Location"])
        elif response.status_code not in (401, 403, 404, 405):
            exposed[path] = response.status_code
    assert not exposed, f"answer an anonymous GET: {exposed}"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/", 404), ("/api/v1/schema/", 401), ("/api/v1/docs/", 401), ("/api/schema/", 404), ("/api/docs/", 404)],
)
def test_api_root_schema_and_docs_are_not_public(db, path, status):
    assert Client().get(path).status_code == status
