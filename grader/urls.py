from django.contrib import admin
from django.urls import include, path

from grader.api.views import HealthView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("grader.api.urls")),
    path("healthz", HealthView.as_view(), name="healthz"),
]

handler404 = "grader.api.errors.not_found"
handler500 = "grader.api.errors.server_error"
