from django.contrib import admin
from django.urls import include, path

from grader.api.views import HealthView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("grader.api.urls")),
    path("healthz", HealthView.as_view(), name="healthz"),
]
