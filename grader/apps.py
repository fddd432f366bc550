from django.apps import AppConfig


class GraderConfig(AppConfig):
    name = "grader"
    verbose_name = "Grader"
    default_auto_field = "django.db.models.BigAutoField"
