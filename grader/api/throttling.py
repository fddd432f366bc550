"""Per-token throttling: each integration has its own budget, so one noisy LMS cannot starve the others."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from grader.models import Integration


class IntegrationRateThrottle(SimpleRateThrottle):
    scope = "integration"

    def get_rate(self) -> str:
        # Read at request time (not import time) so the rate follows settings, in tests too.
        return settings.GRADER_API_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        if isinstance(user, Integration):
            ident = f"integration-{user.pk}"
        elif user is not None and user.is_authenticated:
            ident = f"user-{user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
