"""Query parameters Django's admin itself fails on with a 500, answered with a 400 before they reach it."""

from __future__ import annotations

from django.contrib.admin.options import TO_FIELD_VAR
from django.http import HttpResponseBadRequest


class AdminParameterGuard:
    """An empty ``_to_field`` reads as a field named "" on every change page (FieldDoesNotExist, a 500).

    Django refuses any other field name that is not allowed with a 400; this makes the empty one do the same.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/"):
            values = [request.GET.get(TO_FIELD_VAR)]
            if request.method == "POST":
                values.append(request.POST.get(TO_FIELD_VAR))
            if "" in values:
                return HttpResponseBadRequest("Bad _to_field.")
        return self.get_response(request)
