"""Courses and questions in the admin, with CSV import of questions and their reference answers."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from grader.admin_regrade import regrade_courses, regrade_questions
from grader.models import Course, Integration, Question, ReferenceAnswer
from grader.services.integrations import integration_rotate_token
from grader.services.question_import import QUESTION_CSV_COLUMNS, questions_import_csv
from grader.workspace.admin_scoping import CourseScopedAdmin
from grader.workspace.selectors import courses_for_user, integrations_for_user
from grader.workspace.uploads import MAX_UPLOAD_BYTES, upload_refused


class ArchivedFilter(admin.SimpleListFilter):
    """Courses and questions archived through the API (or here) accept no new submissions."""

    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "active"), ("yes", "archived")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(archived_at__isnull=self.value() == "no")
        return queryset


@admin.register(Course)
class CourseAdmin(CourseScopedAdmin):
    # Regrading with the active version; the queryset an action gets is already limited to the teacher's courses.
    actions = [regrade_courses]
    course_path = ""
    list_display = ["code", "name", "archived_at", "created_at"]
    list_filter = [ArchivedFilter]
    search_fields = ["code", "name"]
    filter_horizontal = ["teachers"]

    def get_readonly_fields(self, request, obj=None):
        # Who teaches a course decides who sees it: only an administrator changes that.
        return [] if request.user.is_superuser else ["code", "teachers"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class ReferenceAnswerInline(admin.TabularInline):
    model = ReferenceAnswer
    extra = 1
    fields = ["text"]


class QuestionImportForm(forms.Form):
    file = forms.FileField(help_text=f"CSV with the columns {', '.join(QUESTION_CSV_COLUMNS)}; one reference a row.")
    dry_run = forms.BooleanField(required=False, initial=True, help_text="Only check the file, write nothing.")


@admin.register(Question)
class QuestionAdmin(CourseScopedAdmin):
    actions = [regrade_questions]
    course_path = "course"
    list_display = ["key", "course", "max_points", "archived_at", "workspace_links"]
    list_filter = [ArchivedFilter, ("course", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["key", "prompt"]
    autocomplete_fields = ["course"]
    inlines = [ReferenceAnswerInline]

    @admin.display(description="review")
    def workspace_links(self, question: Question) -> str:
        queue = reverse("admin:grader_submission_changelist") + f"?question__id__exact={question.pk}&corrected=no"
        groups = reverse("admin:grader_submission_groups", args=[question.pk])
        agreement = reverse("admin:grader_submission_agreement") + f"?question={question.pk}"
        return format_html(
            '<a href="{}">queue</a> · <a href="{}">groups</a> · <a href="{}">agreement</a>', queue, groups, agreement
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_csv_view)
        return [path("import-csv/", view, name="grader_question_import"), *super().get_urls()]

    def import_csv_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        result = None
        form = QuestionImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and upload_refused(request):
            # The upload handler stopped reading the file: the form lacks it (and the fields after it).
            form = QuestionImportForm(data={})
            form.full_clean()
            form.errors.clear()
            form.add_error(None, f"The file is larger than {MAX_UPLOAD_BYTES // 1024} KiB; nothing was imported.")
        elif request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_UPLOAD_BYTES:
                form.add_error("file", f"The file is larger than {MAX_UPLOAD_BYTES // 1024} KiB.")
            else:
                try:
                    text = upload.read().decode("utf-8-sig")
                except UnicodeDecodeError:
                    form.add_error("file", "The file is not UTF-8 text.")
                else:
                    result = questions_import_csv(
                        text=text, courses=courses_for_user(user=request.user), dry_run=form.cleaned_data["dry_run"]
                    )
                    if result.ok and not form.cleaned_data["dry_run"]:
                        messages.success(
                            request,
                            f"Imported: {result.created} new question(s), {result.updated} updated, "
                            f"{result.references_added} reference answer(s) added.",
                        )
                        return redirect("admin:grader_question_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import questions from CSV",
            "form": form,
            "result": result,
            "columns": QUESTION_CSV_COLUMNS,
        }
        return TemplateResponse(request, "admin/grader/question/import_csv.html", context)


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "token_prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["token_prefix", "token_sha256", "created_at", "last_used_at"]
    filter_horizontal = ["courses"]

    def get_queryset(self, request):
        return integrations_for_user(user=request.user)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # An integration may also serve courses a teacher does not teach; they need not learn those exist.
        return fields if request.user.is_superuser else [name for name in fields if name != "courses"]

    def has_add_permission(self, request):
        # A token must be shown exactly once: `python manage.py create_integration`.
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    actions = ["rotate_token"]

    @admin.action(
        description="Rotate the token (the old one stops working; the new one is shown once)",
        permissions=["change"],
    )
    def rotate_token(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one integration.", level=messages.ERROR)
            return
        integration = queryset.get()
        token = integration_rotate_token(integration=integration)
        self.message_user(request, f"New token for {integration}: {token} (copy it now; it is not stored).")
