"""LMS integrations and their API tokens. Tokens are shown once and stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from grader.models import Course, Integration, IntegrationScope

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


def integration_rotate_token(*, integration: Integration) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    Integration.objects.filter(pk=integration.pk).update(
        token_prefix=token[:12], token_sha256=_token_sha256(token), revoked_at=None
    )
    return token


def integration_authenticate(*, token: str) -> Integration | None:
    """The live integration holding this token, its last use recorded; None for an unknown or revoked one."""
    integration = Integration.objects.filter(token_sha256=_token_sha256(token), revoked_at__isnull=True).first()
    if integration is None:
        return None
    now = timezone.now()
    # Recording every request would make each API call a write; once a minute is enough to audit use.
    if integration.last_used_at is None or (now - integration.last_used_at).total_seconds() > 60:
        Integration.objects.filter(pk=integration.pk).update(last_used_at=now)
        integration.last_used_at = now
    return integration
