"""OpenAPI details drf-spectacular cannot infer: the bearer token and the error responses every endpoint shares."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from grader.api.serializers import ErrorSerializer


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "grader.api.authentication.IntegrationTokenAuthentication"
    name = "IntegrationToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An integration's token: `Bearer grd_...`."}


class TeacherBasicScheme(OpenApiAuthenticationExtension):
    target_class = "grader.api.authentication.ThrottledBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "A course teacher's user name and password."}


class GraderAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        # 404 everywhere: a foreign or missing object, and a page number past the end of a list.
        codes = ["400", "401", "403", "404", "429"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["409", "413", "415", "422"]
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code, direction=direction))
        return responses
