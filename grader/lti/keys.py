"""grader's signing keys: created, rotated and published (the JWKS URL). The crypto is jwcrypto's and pylti1p3's."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from jwcrypto.jwk import JWK
from pylti1p3.registration import Registration

from grader.lti.models import ToolKey


def tool_key_create() -> ToolKey:
    key = JWK.generate(kty="RSA", size=2048)
    public_pem = key.export_to_pem().decode("ascii")
    public_jwk = dict(Registration.get_jwk(public_pem))  # kid = RFC 7638 thumbprint, alg RS256, use sig
    return ToolKey.objects.create(
        kid=public_jwk["kid"],
        private_key_pem=key.export_to_pem(private_key=True, password=None).decode("ascii"),
        public_jwk=public_jwk,
    )


def tool_key_signing() -> ToolKey:
    """The key that signs now; the first one is created on first use, so a fresh installation needs no step."""
    key = ToolKey.objects.filter(retired_at__isnull=True).order_by("-created_at", "-pk").first()
    return key if key is not None else tool_key_create()


@transaction.atomic
def tool_keys_rotate() -> ToolKey:
    """A new signing key; the previous ones are retired but stay published for GRADER_LTI_RETIRED_KEY_DAYS, so a
    platform that cached the old key, or holds a token signed with it, keeps working until it refreshes."""
    new_key = tool_key_create()
    ToolKey.objects.filter(retired_at__isnull=True).exclude(pk=new_key.pk).update(retired_at=timezone.now())
    return new_key


def tool_jwks() -> dict:
    """What the JWKS URL publishes: the signing key and the recently retired ones, public halves only."""
    tool_key_signing()
    kept_since = timezone.now() - timedelta(days=settings.GRADER_LTI_RETIRED_KEY_DAYS)
    keys = ToolKey.objects.filter(Q(retired_at__isnull=True) | Q(retired_at__gte=kept_since)).order_by("-created_at")
    return {"keys": [key.public_jwk for key in keys]}
