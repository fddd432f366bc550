"""The teacher's workspace. Teachers see only their courses; every change goes through a service."""

from __future__ import annotations

from django.contrib import admin, messages

from grader.models import ModelVersion, TrainingRun
from grader.services.model_versions import model_version_activate

# Courses, questions, submissions and integrations: the teacher's workspace, scoped to the courses one teaches.
from grader.workspace import admin_courses, admin_submissions  # noqa: F401  (importing registers them)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "parent", "created_at", "activated_at"]
    list_filter = ["status"]
    readonly_fields = [
        "name",
        "parent",
        "status",
        "artifact_path",
        "sha256",
        "metrics",
        "model_card",
        "created_at",
        "activated_at",
    ]
    actions = ["activate"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Activate the selected version (rollback or promote)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", level=messages.ERROR)
            return
        model_version_activate(version=queryset.get())
        self.message_user(request, "Activated; workers grade new submissions with it from now on.")


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "base_version", "produced_version", "dataset_size", "started_at", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [field.name for field in TrainingRun._meta.fields]

    def has_add_permission(self, request):
        return False


from grader import admin_webhooks  # noqa: E402, F401 - webhook endpoints and deliveries: superusers only
