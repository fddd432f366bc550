from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class GraderConfig(AppConfig):
    name = "grader"
    verbose_name = "Grader"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from grader.models import Integration
        from grader.services.integrations import forget_saved_integration

        # A cached token look-up must not outlive a change to its integration (a revocation in the admin).
        post_save.connect(forget_saved_integration, sender=Integration, dispatch_uid="grader-forget-token-save")
        post_delete.connect(forget_saved_integration, sender=Integration, dispatch_uid="grader-forget-token-delete")
