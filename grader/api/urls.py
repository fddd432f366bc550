from django.urls import path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.routers import DefaultRouter

from grader.api import schema as _schema  # noqa: F401 - registers the token's OpenAPI security scheme
from grader.api import views
from grader.api.authentication import IntegrationTokenAuthentication
from grader.api.permissions import IsIntegrationOrStaff

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("courses", views.CourseViewSet, basename="course")
router.register("questions", views.QuestionViewSet, basename="question")
router.register("submissions", views.SubmissionViewSet, basename="submission")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")
router.register("webhooks", views.WebhookEndpointViewSet, basename="webhook")

# The schema and its pages are not public: an integration's token, or staff logged in to the admin.
docs_access = {
    "authentication_classes": [IntegrationTokenAuthentication, SessionAuthentication],
    "permission_classes": [IsIntegrationOrStaff],
}

urlpatterns = [
    *router.urls,
    path("schema/", views.SchemaView.as_view(**docs_access), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", **docs_access), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", **docs_access), name="redoc"),
]
