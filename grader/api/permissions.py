"""Who may call what, beyond "an integration sees only its courses" (that is the querysets' job)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from grader.models import Integration, IntegrationScope


def is_integration(user) -> bool:
    return isinstance(user, Integration)


class IsIntegration(BasePermission):
    """LMS endpoints: a live integration token, nothing else (a logged-in teacher has no course scope here)."""

    def has_permission(self, request, view) -> bool:
        return is_integration(request.user) and request.user.is_authenticated


class MayCorrect(BasePermission):
    """A course's teacher, or an integration given the corrections scope explicitly."""

    message = "This token may not record corrections; it needs the corrections:write scope."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if is_integration(user):
            return user.is_authenticated and IntegrationScope.CORRECTIONS_WRITE in (user.scopes or [])
        return bool(user and user.is_authenticated and user.is_active)


class IsIntegrationOrStaff(BasePermission):
    """The API schema and its docs pages: any integration, or staff logged in to the admin."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if is_integration(user):
            return user.is_authenticated
        return bool(user and user.is_authenticated and user.is_staff)
