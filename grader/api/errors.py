"""One error shape for every API error: ``{"error": {"code", "message", "fields"?}}``."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# What the database raises when it cannot be reached or is restarting (connection refused or lost, "the database
# system is shutting down / starting up"), and for transient refusals such as a serialization failure or a
# deadlock victim. The request may simply be sent again: creating endpoints are idempotent.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if key in ("non_field_errors", "detail") else f"{key}: {message}"
    return str(detail)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "This conflicts with the current state (e.g. a concurrent request created the same object)."


class Unavailable(exceptions.APIException):
    """A 503 a client backs off from and retries, where a 500 would read as a bug in the request or the server."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = "The service is briefly unavailable; retry after the number of seconds in Retry-After."
    wait = RETRY_AFTER_SECONDS  # DRF turns it into the Retry-After header


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is larger than the limit (GRADER_MAX_BODY_BYTES)."


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE; say so in the API's shape.
        exc = RequestTooLarge()
    if isinstance(exc, DATABASE_UNAVAILABLE):
        logger.warning("database unavailable; answering 503", exc_info=exc)
        exc = Unavailable()
    if isinstance(exc, IntegrityError):
        # Validation checks uniqueness first; this is the race it cannot see. A 409 tells the client to re-read.
        exc = Conflict()
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
    body: dict[str, Any] = {"code": code, "message": _first_message(response.data)}
    if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        body["fields"] = response.data
    if response.status_code == status.HTTP_404_NOT_FOUND:
        body = {"code": "not_found", "message": "Not found."}
    response.data = {"error": body}
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """URLs no route matches: under /api/ the same JSON 404 as a missing object, elsewhere Django's page."""
    if _is_api(request):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        # Django calls this while it handles the exception, so the exception is still at hand: a database error
        # raised outside a DRF view (a middleware, say) is an outage too, and answers as the views do.
        if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
            unavailable = Unavailable()
            response = JsonResponse(
                {"error": {"code": unavailable.default_code, "message": str(unavailable.detail)}}, status=503
            )
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        return JsonResponse({"error": {"code": "server_error", "message": "Internal error; try again."}}, status=500)
    return defaults.server_error(request)
