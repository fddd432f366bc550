"""The admin's login form, with the same budget of failed logins per client address as the API's HTTP Basic."""

from __future__ import annotations

import math

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from grader.api.throttling import LoginFailureThrottle


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    """Checks the budget before the (deliberately slow) password hash; each refused login spends from it."""

    def clean(self):
        throttle = LoginFailureThrottle(self.request)
        if throttle.exhausted():
            raise ValidationError(
                "Too many failed logins from your address; try again in %(seconds)s seconds.",
                code="throttled",
                params={"seconds": math.ceil(throttle.wait())},
            )
        try:
            return super().clean()
        except ValidationError:
            throttle.record_failure()
            raise
