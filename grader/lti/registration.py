"""LTI Dynamic Registration: an LMS administrator opens a one-time link from an operator in the LMS, and the LMS
and grader exchange their configurations (pylti1p3's DynamicRegistration does the exchange)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from pylti1p3.dynamic_registration import DynamicRegistration

from grader.lti.models import Platform, RegistrationLink

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]


class RegistrationRefused(Exception):
    pass


class GraderDynamicRegistration(DynamicRegistration):
    client_name = "grader"
    description = "Automated short-answer grading that teachers review and correct."

    def __init__(self, request: HttpRequest) -> None:
        super().__init__()
        self.request = request

    def _url(self, name: str) -> str:
        return self.request.build_absolute_uri(reverse(name))

    def get_initiate_login_uri(self) -> str:
        return self._url("lti:login")

    def get_jwks_uri(self) -> str:
        return self._url("lti:jwks")

    def get_redirect_uris(self) -> list[str]:
        return [self.get_target_link_uri()]

    def get_target_link_uri(self) -> str:
        return self._url("lti:launch")

    def get_domain(self) -> str:
        return self.request.get_host()

    def get_scopes(self) -> list[str]:
        return AGS_SCOPES

    def get_claims(self) -> list[str]:
        return ["iss", "sub", "name", "given_name", "family_name", "email"]

    def get_messages(self) -> list[dict[str, str]]:
        return [{"type": "LtiDeepLinkingRequest", "target_link_uri": self.get_target_link_uri(), "label": "grader"}]

    def get_logo_uri(self) -> str:
        return self.request.build_absolute_uri(static("admin/img/icon-yes.svg"))

    def get_openid_configuration_endpoint(self) -> str:
        return self.request.GET.get("openid_configuration", "")

    def get_registration_token(self) -> str | None:
        return self.request.GET.get("registration_token")

    def complete_registration(self, openid_configuration: dict[str, Any], openid_registration: dict[str, Any]):
        deployment_id = openid_registration[TOOL_CONFIGURATION].get("deployment_id")
        name = openid_configuration.get(PLATFORM_CONFIGURATION, {}).get("product_family_code") or "LMS"
        platform, _ = Platform.objects.update_or_create(
            issuer=openid_configuration["issuer"],
            client_id=openid_registration["client_id"],
            defaults={
                "name": f"{name} ({openid_configuration['issuer']})"[:100],
                "auth_login_url": openid_configuration["authorization_endpoint"],
                "auth_token_url": openid_configuration["token_endpoint"],
                "auth_audience": openid_configuration.get("authorization_server", ""),
                "key_set_url": openid_configuration["jwks_uri"],
                "deployment_ids": [deployment_id] if deployment_id is not None else [],
                "is_active": True,
            },
        )
        return platform


def registration_link_create(*, created_by: AbstractBaseUser) -> RegistrationLink:
    return RegistrationLink.objects.create(token=secrets.token_urlsafe(32), created_by=created_by)


@transaction.atomic
def platform_register_dynamically(*, request: HttpRequest, token: str) -> Platform:
    """Register the LMS that opened a registration link; the link is used up only if the registration succeeds."""
    max_age = timedelta(seconds=settings.GRADER_LTI_REGISTRATION_LINK_SECONDS)
    link = (
        RegistrationLink.objects.select_for_update()
        .filter(token=token, used_at__isnull=True, created_at__gte=timezone.now() - max_age)
        .first()
    )
    if link is None:
        raise RegistrationRefused("This registration link is unknown, used or expired; ask for a new one.")
    platform = GraderDynamicRegistration(request).register()
    RegistrationLink.objects.filter(pk=link.pk).update(used_at=timezone.now(), platform=platform)
    return platform
