from rest_framework.routers import DefaultRouter

from grader.api import views

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("courses", views.CourseViewSet, basename="course")
router.register("questions", views.QuestionViewSet, basename="question")
router.register("submissions", views.SubmissionViewSet, basename="submission")

urlpatterns = router.urls
