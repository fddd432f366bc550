"""Bearer tokens, one per LMS integration."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from grader.api.throttling import LoginFailureThrottle
from grader.models import Integration
from grader.services.integrations import integration_authenticate


class IntegrationTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Integration, str] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):  # schemes are case-insensitive (RFC 9110)
            # Another scheme (a teacher's Basic credentials) is for the authentication classes after this one.
            return None
        if not token.strip():
            raise exceptions.AuthenticationFailed("Send the integration token as `Authorization: Bearer <token>`.")
        integration = integration_authenticate(token=token.strip())
        if integration is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        return integration, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return self.keyword


class ThrottledBasicAuthentication(authentication.BasicAuthentication):
    """A teacher's HTTP Basic credentials, with a budget of failed attempts per client address (429 beyond it)."""

    def authenticate(self, request: Request):
        scheme = authentication.get_authorization_header(request).split(b" ", 1)[0]
        if scheme.lower() != b"basic":
            return None
        throttle = LoginFailureThrottle(request)
        if throttle.exhausted():
            raise exceptions.Throttled(wait=throttle.wait())
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle.record_failure()
            raise
