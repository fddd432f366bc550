"""The API token look-up cached in Redis: one GET instead of a query, and never a revoked token served.

Against the real Redis (a database of its own), as docker-compose deploys the cache.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grader import shared_cache
from grader.models import Integration
from grader.services import integrations
from grader.services.integrations import integration_authenticate, integration_create, integration_rotate_token


@pytest.fixture(autouse=True)
def _cache_up(monkeypatch):
    # The circuit breaker is per process: a test that broke the cache must not leave it open for the next one.
    monkeypatch.setattr(shared_cache, "_down_until", 0.0)
    monkeypatch.setattr(integrations, "_last_recorded", {})


def queries_of(call) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, [query["sql"] for query in captured.captured_queries]


def test_a_cached_token_needs_no_query(redis_cache, integration_and_token):
    integration, token = integration_and_token
    first, first_queries = queries_of(lambda: integration_authenticate(token=token))
    assert first == integration and first_queries  # the look-up, and the last_used_at write
    again, again_queries = queries_of(lambda: integration_authenticate(token=token))
    assert again_queries == []
    assert again.pk == integration.pk and again.name == integration.name and again.scopes == integration.scopes
    assert again.last_used_at == Integration.objects.get(pk=integration.pk).last_used_at
    assert again.is_authenticated


def test_without_a_shared_cache_every_request_asks_the_database(integration_and_token):
    # The default cache in tests is per process (locmem): a revocation elsewhere could not reach it.
    _, token = integration_and_token
    integration_authenticate(token=token)
    _, queries = queries_of(lambda: integration_authenticate(token=token))
    assert any("grader_integration" in sql for sql in queries)


def test_a_token_revoked_in_the_admin_stops_working_at_once(
    redis_cache, integration_and_token, django_capture_on_commit_callbacks
):
    integration, token = integration_and_token
    assert integration_authenticate(token=token) is not None  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        integration.revoked_at = timezone.now()
        integration.save()  # what the admin's form does
    assert integration_authenticate(token=token) is None


def test_a_deleted_integration_token_stops_working_at_once(
    redis_cache, integration_and_token, django_capture_on_commit_callbacks
):
    integration, token = integration_and_token
    assert integration_authenticate(token=token) is not None
    with django_capture_on_commit_callbacks(execute=True):
        Integration.objects.filter(pk=integration.pk).delete()  # the admin's bulk delete: signals per row
    assert integration_authenticate(token=token) is None


def test_a_rotated_token_stops_working_at_once(redis_cache, integration_and_token, django_capture_on_commit_callbacks):
    integration, old_token = integration_and_token
    assert integration_authenticate(token=old_token) is not None
    with django_capture_on_commit_callbacks(execute=True):
        new_token = integration_rotate_token(integration=integration)
    assert integration_authenticate(token=old_token) is None
    assert integration_authenticate(token=new_token).pk == integration.pk


def test_a_row_read_before_a_revocation_is_not_cached_after_it(
    redis_cache, integration_and_token, django_capture_on_commit_callbacks
):
    """A request that read the row just before the revocation committed tries to cache it just after: the
    tombstone the revocation left refuses it."""
    integration, token = integration_and_token
    read_before = Integration.objects.get(pk=integration.pk)
    with django_capture_on_commit_callbacks(execute=True):
        integration.revoked_at = timezone.now()
        integration.save()
    integrations._token_cache_add(read_before)
    assert integration_authenticate(token=token) is None


def test_last_use_is_written_once_a_minute_per_process_even_from_the_cache(
    redis_cache, integration_and_token, monkeypatch
):
    integration, token = integration_and_token
    integration_authenticate(token=token)  # cached, with this minute's last_used_at
    _, queries = queries_of(lambda: integration_authenticate(token=token))
    assert queries == []
    # Two minutes later, with a long-lived entry: the cached last_used_at is stale, and one request writes it.
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr(integrations.timezone, "now", lambda: later)
    monkeypatch.setattr(integrations, "_last_recorded", {})
    _, queries = queries_of(lambda: integration_authenticate(token=token))
    assert len(queries) == 1 and queries[0].startswith("UPDATE")
    assert Integration.objects.get(pk=integration.pk).last_used_at == later
    # The entry still says two minutes ago; this process remembers it wrote, so the next requests do not.
    _, queries = queries_of(lambda: integration_authenticate(token=token))
    assert queries == []


def test_redis_down_the_api_still_authenticates_and_accepts(settings, demo_course, gradient_descent_question):
    """The cache fails open: no throttle, tokens from the database; the answer is stored and 202."""
    from rest_framework.test import APIClient

    working_caches = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there: connection refused
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    try:
        _, token = integration_create(name="redis-down", courses=[demo_course])
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        for number in range(3):
            response = client.post(
                "/api/v1/submissions/",
                {"question": gradient_descent_question.pk, "student_ref": f"s{number}", "answer": "Steps downhill."},
                format="json",
            )
            assert response.status_code == 202, response.content
        assert shared_cache.cache_is_down()
        stranger = APIClient()
        stranger.credentials(HTTP_AUTHORIZATION="Bearer grd_unknown")
        assert stranger.get("/api/v1/submissions/").status_code == 401
    finally:
        settings.CACHES = working_caches  # before the throttle fixture's teardown clears the cache
