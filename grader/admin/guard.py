"""Parameters Django's admin itself fails on with a 500, answered with a 400 before they reach it."""

from __future__ import annotations

import re

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import TO_FIELD_VAR
from django.http import HttpResponseBadRequest

# Every model in this admin (grader's, auth's, the beat schedule's) has integer ids.
_ID = re.compile(r"[0-9]{1,18}")


class AdminParameterGuard:
    """Two inputs the admin does not validate before using them:

    - an empty ``_to_field`` reads as a field named "" on every change page (FieldDoesNotExist). Django refuses
      any other field name it does not allow with a 400; this makes the empty one do the same;
    - an action's selected ids (``_selected_action``) go into ``pk__in`` as sent, and "abc" or "²" raise
      ValueError there.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/") and self._refused(request):
            return HttpResponseBadRequest("Bad admin parameter.")
        return self.get_response(request)

    @staticmethod
    def _refused(request) -> bool:
        if request.GET.get(TO_FIELD_VAR) == "":
            return True
        if request.method != "POST":
            return False
        if request.POST.get(TO_FIELD_VAR) == "":
            return True
        return not all(_ID.fullmatch(value) for value in request.POST.getlist(ACTION_CHECKBOX_NAME))
