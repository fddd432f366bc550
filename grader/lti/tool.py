"""pylti1p3 wired to grader's tables: registrations from Platform rows, its launch store in the database, and the
checks the library leaves to its host (single-use nonce, azp, exp and iat required).

The protocol itself (OIDC redirect, state, signature against the platform's JWKS, client and deployment ids,
message validators, OAuth2 tokens, AGS requests) is the library's; nothing here signs or verifies a JWT.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from pylti1p3.contrib.django import DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiInvalidNonceException, LtiMessageValidationException
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract

from grader.lti.keys import tool_key_signing
from grader.lti.models import LaunchStateEntry, Platform, UsedNonce

# How long the library keeps a launch's data (state, issued nonce, decoded id_token) for later steps.
LAUNCH_DATA_SECONDS = 3600


class PlatformRegistration(Registration):
    """A pylti1p3 registration that knows its Platform row."""

    def __init__(self, platform: Platform) -> None:
        super().__init__()
        self.platform = platform
        key = tool_key_signing()
        (
            self.set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.auth_token_url)
            .set_key_set_url(platform.key_set_url)
            .set_tool_private_key(key.private_key_pem)
        )
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)
        self.set_tool_public_key(_public_pem(key.public_jwk))


def _public_pem(public_jwk: dict) -> str:
    from jwcrypto.jwk import JWK

    return JWK(**public_jwk).export_to_pem().decode("ascii")


class PlatformToolConf(ToolConfAbstract):
    """Registrations are Platform rows, keyed by issuer and client id (one issuer may register grader twice)."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def _platform(self, iss: str, client_id: str | None) -> Platform | None:
        platforms = Platform.objects.filter(issuer=iss, is_active=True)
        if client_id:
            return platforms.filter(client_id=client_id).first()
        # A login request may leave the client id out; then the issuer must name one registration.
        candidates = list(platforms[:2])
        return candidates[0] if len(candidates) == 1 else None

    # pylti1p3 annotates these as never None, but its callers test for None (an unknown platform).
    def find_registration_by_issuer(  # type: ignore[override]
        self, iss: str, *args: Any, **kwargs: Any
    ) -> Registration | None:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(  # type: ignore[override]
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Registration | None:
        platform = self._platform(iss, client_id)
        return PlatformRegistration(platform) if platform else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        platform = self._platform(iss, client_id)
        if platform is None or deployment_id not in platform.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)


class DatabaseLaunchStorage(LaunchDataStorage):
    """The library's state store in grader's database: every web process sees the same state, also in the
    embedded mode (SQLite), where the default cache is per process.

    Keys are not prefixed with a browser session id: the state and nonce are random and single-purpose, and the
    state is checked against its cookie anyway; a session cookie of its own would be one more cookie the LMS
    frame must keep.
    """

    def get_session_cookie_name(self) -> str | None:
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        row = (
            LaunchStateEntry.objects.filter(key=self._prepare_key(key), expires_at__gt=timezone.now())
            .values_list("value", flat=True)
            .first()
        )
        return row

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        LaunchStateEntry.objects.update_or_create(
            key=self._prepare_key(key),
            defaults={"value": value, "expires_at": timezone.now() + timedelta(seconds=exp or LAUNCH_DATA_SECONDS)},
        )

    def check_value(self, key: str) -> bool:
        return LaunchStateEntry.objects.filter(key=self._prepare_key(key), expires_at__gt=timezone.now()).exists()


def launch_state_purge_expired() -> int:
    """Expired state, and used nonces old enough that no id_token carrying them can still be within its exp."""
    removed = LaunchStateEntry.objects.filter(expires_at__lte=timezone.now()).delete()[0]
    return removed + UsedNonce.objects.filter(used_at__lt=timezone.now() - timedelta(days=7)).delete()[0]


class GraderOIDCLogin(DjangoOIDCLogin):
    def __init__(self, request) -> None:
        # DjangoOIDCLogin's annotation names its own database tool config; any ToolConfAbstract works.
        super().__init__(request, PlatformToolConf(), launch_data_storage=DatabaseLaunchStorage())  # type: ignore[arg-type]
        # The library attaches the store only when it builds the redirect; attached now, its lifetime can be set.
        assert self._launch_data_storage is not None  # given just above
        self.set_launch_data_storage(self._launch_data_storage)
        self.set_launch_data_lifetime(LAUNCH_DATA_SECONDS)


class GraderMessageLaunch(DjangoMessageLaunch):
    """The library's launch validation, plus: a nonce is used once, ``azp`` names grader when present (and must be
    present with several audiences), ``exp`` and ``iat`` must be in the token (PyJWT only checks them if present)."""

    def __init__(self, request) -> None:
        super().__init__(request, PlatformToolConf(), launch_data_storage=DatabaseLaunchStorage())
        self.set_launch_data_lifetime(LAUNCH_DATA_SECONDS)
        self.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})

    @property
    def platform(self) -> Platform:
        assert isinstance(self._registration, PlatformRegistration)
        return self._registration.platform

    def validate_registration(self) -> GraderMessageLaunch:
        super().validate_registration()
        body = self._get_jwt_body()
        audience = body.get("aud")
        audiences: list[str | None] = list(audience) if isinstance(audience, list) else [audience]
        assert self._registration is not None  # validate_registration has found it or raised
        client_id = self._registration.get_client_id()
        azp = body.get("azp")
        if len(audiences) > 1 and not azp:
            raise LtiMessageValidationException("The id_token has several audiences but no azp claim.")
        if azp is not None and azp != client_id:
            raise LtiMessageValidationException("The id_token's azp claim is not grader's client id.")
        return self

    def save_launch_data(self) -> GraderMessageLaunch:
        # Last step of validate(): everything else has passed, so only a genuine launch uses up its nonce.
        nonce = self._get_jwt_body().get("nonce")
        if not nonce:
            raise LtiInvalidNonceException("The id_token carries no nonce.")
        try:
            with transaction.atomic():
                UsedNonce.objects.create(platform=self.platform, nonce=nonce)
        except IntegrityError as replay:
            raise LtiInvalidNonceException("This launch was already used (its nonce has been seen before).") from replay
        super().save_launch_data()
        return self
