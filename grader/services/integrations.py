"""LMS integrations and their API tokens. Tokens are shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import time
from datetime import datetime

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from grader.models import Course, Integration, IntegrationScope
from grader.shared_cache import CACHE_ERRORS, available_redis, cache_failed, cache_key, shared_redis

TOKEN_PREFIX = "grd_"  # noqa: S105 - a public prefix that marks grader tokens, not a secret


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def integration_create(*, name: str, courses: list[Course], scopes: list[str] | None = None) -> tuple[Integration, str]:
    """A new integration and its token; the token is returned once and never stored in clear."""
    unknown = set(scopes or []) - set(IntegrationScope.values)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    integration = Integration.objects.create(
        name=name, token_prefix=token[:12], token_sha256=_token_sha256(token), scopes=sorted(set(scopes or []))
    )
    integration.courses.set(courses)
    return integration, token


def integration_holds_token(*, integration: Integration, token: str) -> bool:
    """Whether ``token`` is this integration's live token; unlike authenticating, it records no use."""
    return integration.revoked_at is None and secrets.compare_digest(integration.token_sha256, _token_sha256(token))


def integration_rotate_token(*, integration: Integration) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    old_sha256 = Integration.objects.filter(pk=integration.pk).values_list("token_sha256", flat=True).first()
    Integration.objects.filter(pk=integration.pk).update(
        token_prefix=token[:12], token_sha256=_token_sha256(token), revoked_at=None
    )
    if old_sha256:
        # update() sends no signal: the old token must stop working in every web process now, not after the TTL.
        integration_forget_token(token_sha256=old_sha256)
    return token


def integration_authenticate(*, token: str) -> Integration | None:
    """The live integration holding this token, its last use recorded; None for an unknown or revoked one."""
    token_sha256 = _token_sha256(token)
    integration = _token_cache_get(token_sha256)
    if integration is None:
        integration = Integration.objects.filter(token_sha256=token_sha256, revoked_at__isnull=True).first()
        if integration is None:
            return None
        _record_use(integration, cached=False)
        _token_cache_add(integration)
    else:
        _record_use(integration, cached=True)
    return integration


# Recording every request would make each API call a write; once a minute is enough to audit use. A cached row's
# last_used_at is as old as the entry, so each process also remembers when it last wrote it: at most one write
# a minute per integration and web process.
LAST_USED_EVERY_SECONDS = 60
_last_recorded: dict[int, float] = {}


def _record_use(integration: Integration, *, cached: bool) -> None:
    now = timezone.now()
    last_used = integration.last_used_at
    if last_used is not None and (now - last_used).total_seconds() <= LAST_USED_EVERY_SECONDS:
        return
    if cached and time.monotonic() - _last_recorded.get(integration.pk, -math.inf) <= LAST_USED_EVERY_SECONDS:
        return
    Integration.objects.filter(pk=integration.pk).update(last_used_at=now)
    integration.last_used_at = now
    _last_recorded[integration.pk] = time.monotonic()


# --- The token look-up, cached ------------------------------------------------------------------------------
# Every API request authenticates, and the ORM query for it was a sixth of a POST's CPU in the web process. With
# a shared cache (Redis), the integration's row is kept there under its token's hash: one GET instead. Any change
# to the row (the admin's form, a revocation, a rotation, a deletion) replaces the entry, once committed, with a
# short-lived tombstone, in every process at once. The tombstone rather than a delete: a request that read the old
# row just before the change was committed would otherwise cache it again right after (entries are only ever
# added, SET NX, so a tombstone cannot be overwritten). GRADER_API_TOKEN_CACHE_SECONDS bounds what a change made
# behind the ORM's back (raw SQL, another program) could leave: a revoked token keeps working at most that long.
# Without a shared cache (locmem, the embedded default) no change would reach every process, so every request
# asks the database. The entry is JSON of the row's columns, not a pickle: the key names the columns, so a
# deploy that changes the model never reads an entry of the old shape.
_TOKEN_CACHE_FIELDS = Integration._meta.concrete_fields
_TOKEN_CACHE_COLUMNS = [field.attname for field in _TOKEN_CACHE_FIELDS]
_TOKEN_CACHE_VERSION = hashlib.sha256(",".join(_TOKEN_CACHE_COLUMNS).encode()).hexdigest()[:8]
_TOMBSTONE = b"-"
TOMBSTONE_SECONDS = 10


def _token_cache_key(token_sha256: str) -> str:
    return cache_key(f"integration-token:{_TOKEN_CACHE_VERSION}:{token_sha256}")


def _token_cache() -> redis.Redis | None:
    return available_redis() if settings.GRADER_API_TOKEN_CACHE_SECONDS > 0 else None


def _token_cache_get(token_sha256: str) -> Integration | None:
    client = _token_cache()
    if client is None:
        return None
    try:
        cached = client.get(_token_cache_key(token_sha256))
    except CACHE_ERRORS as error:
        cache_failed(error, what="API tokens are looked up in the database meanwhile")
        return None
    if cached is None or cached == _TOMBSTONE:
        return None
    row = json.loads(cached)
    values = [field.to_python(row[field.attname]) for field in _TOKEN_CACHE_FIELDS]
    return Integration.from_db("default", _TOKEN_CACHE_COLUMNS, values)


def _token_cache_add(integration: Integration) -> None:
    client = _token_cache()
    if client is None:
        return
    row = {column: getattr(integration, column) for column in _TOKEN_CACHE_COLUMNS}
    try:
        client.set(
            _token_cache_key(integration.token_sha256),
            json.dumps(row, default=_isoformat),
            ex=settings.GRADER_API_TOKEN_CACHE_SECONDS,
            nx=True,
        )
    except CACHE_ERRORS as error:
        cache_failed(error, what="API tokens are looked up in the database meanwhile")


def _isoformat(value: datetime) -> str:
    # Not DjangoJSONEncoder: it cuts datetimes to milliseconds.
    return value.isoformat()


def integration_forget_token(*, token_sha256: str) -> None:
    """Stop serving this token's cached look-up once the current transaction commits (at once outside one).

    After the commit, not before: until then, the database still gives the old row to anyone who asks.
    Called for every saved or deleted Integration (grader.apps connects the signals) and by a rotation.
    """

    def forget() -> None:
        client = shared_redis()
        if client is None:
            return
        try:
            client.set(_token_cache_key(token_sha256), _TOMBSTONE, ex=TOMBSTONE_SECONDS)
        except CACHE_ERRORS as error:
            # Nothing is read from a Redis that failed until it answers again; an entry it kept expires with its TTL.
            cache_failed(error, what="a changed integration's cached token may be served until its TTL")

    transaction.on_commit(forget)


def forget_saved_integration(sender, instance: Integration, **kwargs) -> None:
    integration_forget_token(token_sha256=instance.token_sha256)
