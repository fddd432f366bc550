"""Courses and questions in the admin, with CSV import of questions and their reference answers, and regrading."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from grader.admin.scoping import CourseScopedAdmin
from grader.models import Question, ReferenceAnswer
from grader.services.course_teachers import colleague_account, course_teacher_add_colleague
from grader.services.question_import import QUESTION_CSV_COLUMNS, questions_import_csv
from grader.services.regrading import regrade_enqueue
from grader.workspace.selectors import courses_for_user
from grader.workspace.uploads import MAX_UPLOAD_BYTES, upload_refused


# Regrading with the active model version: every graded submission no teacher corrected.
def _regrade(modeladmin, request, question_ids: list[int]) -> None:
    regrade_enqueue(question_ids=question_ids)
    modeladmin.message_user(
        request,
        f"Regrading {len(question_ids)} question(s) with the active version; teacher-corrected grades are kept.",
        level=messages.SUCCESS,
    )


@admin.action(description="Regrade uncorrected submissions with the active model version")
def regrade_questions(modeladmin, request, queryset) -> None:
    # The queryset is the admin's, already limited to the teacher's courses.
    _regrade(modeladmin, request, list(queryset.values_list("pk", flat=True)))


@admin.action(description="Regrade uncorrected submissions of these courses with the active model version")
def regrade_courses(modeladmin, request, queryset) -> None:
    _regrade(modeladmin, request, list(Question.objects.filter(course__in=queryset).values_list("pk", flat=True)))


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


class CourseColleagueForm(forms.ModelForm):
    """A course's teacher sees who teaches it and may add a colleague; choosing from every account is an operator's."""

    add_colleague = forms.CharField(
        required=False,
        max_length=254,
        label="Add a colleague",
        help_text="The username or e-mail of their staff account: they then see this course as you do. "
        "Only an administrator takes a teacher off a course.",
    )

    def clean_add_colleague(self) -> str:
        identifier = self.cleaned_data["add_colleague"].strip()
        if identifier:
            colleague_account(identifier=identifier)  # its ValidationError becomes the field's error
        return identifier


class CourseAdmin(CourseScopedAdmin):
    # Regrading with the active version; the queryset an action gets is already limited to the teacher's courses.
    actions = [regrade_courses]
    course_path = ""
    list_display = ["code", "name", "archived_at", "created_at"]
    list_filter = [ArchivedFilter]
    search_fields = ["code", "name"]
    filter_horizontal = ["teachers"]

    def get_readonly_fields(self, request, obj=None):
        # Who teaches a course decides who sees it: an administrator chooses freely, a teacher only adds.
        return [] if request.user.is_superuser else ["code", "teachers"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if not request.user.is_superuser:
            kwargs["form"] = CourseColleagueForm
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        identifier = form.cleaned_data.get("add_colleague")
        if identifier:
            result = course_teacher_add_colleague(course=obj, by=request.user, identifier=identifier)
            if result.added:
                messages.success(request, f"{result.teacher.get_username()} now teaches {obj.code}.")

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
