"""The teacher's workspace. Teachers see only their courses; every change goes through a service."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from grader.models import (
    Correction,
    Course,
    Integration,
    ModelVersion,
    Question,
    ReferenceAnswer,
    Submission,
    TrainingRun,
)
from grader.services.model_versions import model_version_activate
from grader.services.submissions import correction_create


def _scoped(request: HttpRequest, queryset: QuerySet, course_path: str) -> QuerySet:
    if request.user.is_superuser:
        return queryset
    return queryset.filter(**{f"{course_path}teachers": request.user}).distinct()


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "created_at"]
    search_fields = ["code", "name"]
    filter_horizontal = ["teachers"]

    def get_queryset(self, request):
        return _scoped(request, super().get_queryset(request), "")


class ReferenceAnswerInline(admin.TabularInline):
    model = ReferenceAnswer
    extra = 1
    fields = ["text"]


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["key", "course", "max_points", "archived_at"]
    list_filter = ["course"]
    search_fields = ["key", "prompt"]
    inlines = [ReferenceAnswerInline]

    def get_queryset(self, request):
        return _scoped(request, super().get_queryset(request), "course__")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "course":
            kwargs["queryset"] = _scoped(request, Course.objects.all(), "")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CorrectionInline(admin.TabularInline):
    model = Correction
    extra = 0
    can_delete = False
    fields = ["created_at", "teacher", "auto_points", "points", "comment"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class SubmissionCorrectionForm(forms.ModelForm):
    """The submission itself is read-only; a teacher adds a correction, which a service records."""

    correct_points = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        decimal_places=2,
        help_text="Your grade; leave empty to keep the current one.",
    )
    correction_comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)

    class Meta:
        model = Submission
        fields: list[str] = []


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    form = SubmissionCorrectionForm
    list_display = [
        "id",
        "question",
        "student_ref",
        "status",
        "similarity",
        "points",
        "corrected_points",
        "model_version",
        "graded_at",
    ]
    list_filter = ["status", "question__course", "model_version"]
    search_fields = ["student_ref", "external_id", "answer"]
    list_select_related = ["question", "question__course", "model_version"]
    readonly_fields = [
        "question", "student_ref", "external_id", "answer", "status", "similarity", "points", "best_reference",
        "model_version", "graded_at", "corrected_points", "error", "created_at",
    ]  # fmt: skip
    readonly_fields += ["confidence", "review_reasons"]
    fieldsets = [
        (None, {"fields": ["question", "student_ref", "external_id", "answer", "created_at"]}),
        (
            "Auto grade",
            {"fields": ["status", "similarity", "points", "best_reference", "model_version", "graded_at", "error"]},
        ),
        ("Teacher's grade", {"fields": ["corrected_points", "correct_points", "correction_comment"]}),
    ]
    fieldsets.insert(2, ("Review", {"fields": ["confidence", "review_reasons"]}))
    inlines = [CorrectionInline]

    def get_queryset(self, request):
        return _scoped(request, super().get_queryset(request), "question__course__")

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        points = form.cleaned_data.get("correct_points")
        if points is None:
            return
        try:
            correction_create(
                submission=obj,
                teacher=request.user,
                points=points,
                comment=form.cleaned_data.get("correction_comment", ""),
            )
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))


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


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "token_prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["token_prefix", "token_sha256", "created_at", "last_used_at"]
    filter_horizontal = ["courses"]

    def has_add_permission(self, request):
        # A token must be shown exactly once: `python manage.py create_integration`.
        return False
