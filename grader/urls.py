from django.contrib import admin
from django.urls import include, path

from grader import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("grader.api.urls")),
    path("lti/", include("grader.lti.urls")),
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.readiness, name="readyz"),
]

handler404 = "grader.api.errors.not_found"
handler500 = "grader.api.errors.server_error"
