"""Submissions in the admin: the review queue, corrections, groups, "fix one, fix many", agreement, CSV export."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, OuterRef, Subquery
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import SimpleLazyObject

from grader.admin.scoping import CourseScopedAdmin
from grader.models import Correction, Submission
from grader.services.grouping import submission_groups, submissions_changed_by_same_decision
from grader.services.model_versions import NoActiveModelVersion
from grader.services.review import submissions_confirm_auto_grades, submissions_grade_group
from grader.services.submissions import correction_create
from grader.workspace.agreement import agreement_of, agreement_points, agreement_trend
from grader.workspace.charts import figure_png, scatter_figure, trend_figure
from grader.workspace.explanation import submission_explanation
from grader.workspace.export import grades_csv
from grader.workspace.review_text import (
    STATUS_TEXT,
    confidence_percent,
    points_text,
    review_reason_texts,
    similarity_text,
)
from grader.workspace.selectors import (
    courses_for_user,
    questions_for_user,
    review_queue_ordering,
    review_queue_overview,
    submissions_for_user,
    submissions_review_queue,
)


def _id_or_none(value: str | None) -> int | None:
    """A database id from a query parameter, or None.

    Not ``str.isdigit``: it accepts "²" and other Unicode digits that ``int()`` refuses. Ids fit in 18 digits.
    """
    if value is None or not re.fullmatch(r"[0-9]{1,18}", value):
        return None
    return int(value)


class StatusFilter(admin.SimpleListFilter):
    """The status in a teacher's words; "awaiting review" (needs_review) is what the review queue is for."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return list(STATUS_TEXT.items())

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() in STATUS_TEXT else queryset


class CorrectedFilter(admin.SimpleListFilter):
    title = "teacher's grade"
    parameter_name = "corrected"

    def lookups(self, request, model_admin):
        return [("no", "not corrected yet"), ("yes", "corrected")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(corrected_points__isnull=self.value() == "no")
        return queryset


class PointsRangeFilter(admin.SimpleListFilter):
    title = "auto points"
    parameter_name = "points_range"

    def lookups(self, request, model_admin):
        return [("zero", "no points"), ("partial", "partial credit"), ("full", "full points"), ("none", "not graded")]

    def queryset(self, request, queryset):
        ranges = {
            "zero": {"points": 0},
            "partial": {"points__gt": 0, "points__lt": F("question__max_points")},
            "full": {"points__gte": F("question__max_points")},
            "none": {"points__isnull": True},
        }
        return queryset.filter(**ranges[self.value()]) if self.value() in ranges else queryset


class SubmissionCorrectionForm(forms.ModelForm):
    """The submission itself is read-only; a teacher adds a correction, which a service records."""

    correct_points = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        decimal_places=2,
        help_text="Your points; leave empty to change nothing (an answer awaiting review keeps waiting for you).",
    )
    correction_comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)

    class Meta:
        model = Submission
        fields: list[str] = []

    def clean_correct_points(self):
        points = self.cleaned_data.get("correct_points")
        if points is not None and points > self.instance.question.max_points:
            raise ValidationError(f"At most {self.instance.question.max_points} points.")
        return points


class SubmissionListCorrectionForm(forms.ModelForm):
    """Correcting from the list: the teacher's points column is editable, the service records the correction."""

    class Meta:
        model = Submission
        fields = ["corrected_points"]

    def clean_corrected_points(self):
        points = self.cleaned_data.get("corrected_points")
        if self.instance.pk is None:
            # The row's id is not one of the listed submissions (another course's, or none): the id field says so.
            return None
        if points is None:
            if self.instance.corrected_points is not None:
                raise ValidationError("A correction stays; enter points to change it.")
            return points
        if not Decimal("0") <= points <= self.instance.question.max_points:
            raise ValidationError(f"Between 0 and {self.instance.question.max_points}.")
        return points


class GroupGradeForm(forms.Form):
    points = forms.DecimalField(min_value=Decimal("0"), decimal_places=2)
    comment = forms.CharField(required=False, max_length=5000)


class CorrectionInline(admin.TabularInline):
    model = Correction
    extra = 0
    can_delete = False
    fields = ["created_at", "teacher", "auto_points", "points", "comment"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class SubmissionAdmin(CourseScopedAdmin):
    course_path = "question__course"
    form = SubmissionCorrectionForm
    change_form_template = "admin/grader/submission/change_form.html"
    change_list_template = "admin/grader/submission/change_list.html"
    list_display = [
        "id", "student_ref", "answer_excerpt", "status_text", "confidence_shown", "review_reasons_shown",
        "similarity_rounded", "auto_points", "corrected_points", "corrected_by", "question",
    ]  # fmt: skip
    list_display_links = ["id"]
    list_editable = ["corrected_points"]
    list_filter = [
        StatusFilter,
        PointsRangeFilter,
        CorrectedFilter,
        "model_version",
        ("question__course", admin.RelatedOnlyFieldListFilter),
        ("question", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["student_ref", "external_id", "answer"]
    list_select_related = ["question", "question__course", "model_version"]
    list_per_page = 50
    readonly_fields = [
        "question", "student_ref", "external_id", "answer", "status_text", "similarity_rounded", "auto_points",
        "best_reference", "model_version", "graded_at", "teacher_points", "corrected_by", "error", "created_at",
        "confidence_shown", "review_reasons_shown",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["question", "student_ref", "external_id", "answer", "created_at"]}),
        (
            "Auto grade",
            {
                "fields": [
                    "status_text",
                    "similarity_rounded",
                    "auto_points",
                    "best_reference",
                    "model_version",
                    "graded_at",
                    "error",
                ]
            },
        ),
        ("Review", {"fields": ["confidence_shown", "review_reasons_shown"]}),
        ("Teacher's grade", {"fields": ["teacher_points", "corrected_by", "correct_points", "correction_comment"]}),
    ]
    inlines = [CorrectionInline]
    actions = ["confirm_auto_grades", "export_grades_csv"]

    # --- lists ---------------------------------------------------------------------------------------------

    def get_queryset(self, request):
        latest = Correction.objects.filter(submission=OuterRef("pk")).order_by("-created_at", "-pk")
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                latest_teacher=Subquery(latest.values("teacher__username")[:1]),
                latest_corrected_at=Subquery(latest.values("created_at")[:1]),
            )
        )
        return submissions_review_queue(queryset=queryset)

    def get_ordering(self, request):
        # The changelist orders by this, not by the queryset's order_by.
        return review_queue_ordering()

    def get_changelist_form(self, request, **kwargs):
        return SubmissionListCorrectionForm

    @admin.display(description="answer")
    def answer_excerpt(self, submission: Submission) -> str:
        return submission.answer if len(submission.answer) <= 120 else submission.answer[:118] + "…"

    @admin.display(description="similarity", ordering="similarity")
    def similarity_rounded(self, submission: Submission) -> str:
        return similarity_text(submission.similarity)

    @admin.display(description="auto points", ordering="points")
    def auto_points(self, submission: Submission) -> str:
        return points_text(submission.points, submission.question.max_points)

    @admin.display(description="teacher's points")
    def teacher_points(self, submission: Submission) -> str:
        return points_text(submission.corrected_points, submission.question.max_points)

    @admin.display(description="status", ordering="status")
    def status_text(self, submission: Submission) -> str:
        return STATUS_TEXT.get(submission.status, submission.status)

    @admin.display(description="confidence", ordering="confidence")
    def confidence_shown(self, submission: Submission) -> str:
        # The probability that a teacher agrees on pass or fail, as a percentage.
        return confidence_percent(submission.confidence)

    @admin.display(description="review reasons")
    def review_reasons_shown(self, submission: Submission) -> str:
        return " ".join(review_reason_texts(submission.review_reason_list)) or "-"

    @admin.display(description="corrected by")
    def corrected_by(self, submission: Submission) -> str:
        teacher = getattr(submission, "latest_teacher", None)
        if teacher is None:
            return "-"
        return f"{teacher}, {submission.latest_corrected_at:%Y-%m-%d %H:%M}"

    # --- corrections ---------------------------------------------------------------------------------------

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        if isinstance(form, SubmissionListCorrectionForm):
            points, comment = form.cleaned_data.get("corrected_points"), ""
        else:
            points, comment = form.cleaned_data.get("correct_points"), form.cleaned_data.get("correction_comment", "")
        if points is None:
            return
        try:
            correction_create(submission=obj, teacher=request.user, points=points, comment=comment)
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
        else:
            request.grader_corrected_points = points

    def response_change(self, request, obj):
        points = getattr(request, "grader_corrected_points", None)
        if points is not None and "_continue" not in request.POST:
            # "Fix one, fix many": offer the nearest answers the same decision would change.
            return redirect(reverse("admin:grader_submission_similar", args=[obj.pk]) + f"?points={points}")
        return super().response_change(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        submission = self.get_object(request, object_id)
        if submission is not None:
            # Lazy: encoding only happens if the page is rendered, not when a save redirects.
            extra_context["explanation"] = SimpleLazyObject(lambda: submission_explanation(submission=submission))
            # The title in the same words as the status field, not the stored code.
            extra_context["subtitle"] = f"submission {submission.pk} ({self.status_text(submission)})"
            extra_context["auto_points_text"] = self.auto_points(submission)
            extra_context["can_accept_auto_grade"] = self._can_accept_auto_grade(request, submission)
        return super().change_view(request, object_id, form_url, extra_context)

    def _can_accept_auto_grade(self, request, submission: Submission) -> bool:
        return (
            submission.status == Submission.Status.NEEDS_REVIEW
            and submission.points is not None
            and submission.corrected_points is None
            and self.has_change_permission(request, submission)
        )

    def accept_auto_grade_view(self, request, submission_id: int):
        """One click on a grade awaiting review: the teacher agrees with it, through the same service as the
        list's "accept" action (a correction with the auto points, which releases the grade)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        submission = self.get_object(request, str(submission_id))
        if submission is None:
            raise Http404
        if not self.has_change_permission(request, submission):
            raise PermissionDenied
        if submissions_confirm_auto_grades(submissions=[submission], teacher=request.user):
            messages.success(request, f"Accepted the auto grade: {self.auto_points(submission)} points.")
        else:
            # A colleague corrected it meanwhile, or it is not graded: their grade stands.
            messages.warning(request, "Nothing accepted: this answer has no auto grade or already has a teacher's.")
        return redirect(reverse("admin:grader_submission_change", args=[submission.pk]))

    @admin.action(description="Accept the auto grade of the selected submissions (counts as a training label)")
    def confirm_auto_grades(self, request, queryset):
        if not self.has_change_permission(request):
            raise PermissionDenied
        confirmed = submissions_confirm_auto_grades(submissions=queryset, teacher=request.user)
        skipped = queryset.count() - confirmed
        self.message_user(request, f"Confirmed {confirmed} auto grade(s); {skipped} left alone (ungraded or corrected)")

    @admin.action(description="Export the grades of the selected submissions as CSV")
    def export_grades_csv(self, request, queryset):
        response = HttpResponse(grades_csv(queryset.order_by("question__course__code", "question__key", "pk")))
        response["Content-Type"] = "text/csv; charset=utf-8"
        response["Content-Disposition"] = 'attachment; filename="grades.csv"'
        return response

    # --- workspace pages -----------------------------------------------------------------------------------

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path("review/", wrap(self.review_view), name="grader_submission_review"),
            path("agreement/", wrap(self.agreement_view), name="grader_submission_agreement"),
            path("agreement/scatter.png", wrap(self.scatter_png_view), name="grader_submission_agreement_scatter"),
            path("agreement/trend.png", wrap(self.trend_png_view), name="grader_submission_agreement_trend"),
            path("groups/<int:question_id>/", wrap(self.groups_view), name="grader_submission_groups"),
            path("<int:submission_id>/similar/", wrap(self.similar_view), name="grader_submission_similar"),
            path(
                "<int:submission_id>/accept/",
                wrap(self.accept_auto_grade_view),
                name="grader_submission_accept_auto_grade",
            ),
            *super().get_urls(),
        ]

    def _context(self, request, **context):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **context}

    def _require(self, request, *, change: bool = False) -> None:
        allowed = self.has_change_permission(request) if change else self.has_view_permission(request)
        if not allowed:
            raise PermissionDenied

    def review_view(self, request):
        self._require(request)
        rows = review_queue_overview(user=request.user)
        return TemplateResponse(
            request, "admin/grader/submission/review.html", self._context(request, title="Review queue", rows=rows)
        )

    def _agreement_scope(self, request):
        """The submissions and a title for ``?question=`` or ``?course=`` (404 if not the teacher's), else all."""
        submissions = submissions_for_user(user=request.user)
        if question_id := request.GET.get("question"):
            if (pk := _id_or_none(question_id)) is None:
                raise Http404
            question = get_object_or_404(questions_for_user(user=request.user), pk=pk)
            return submissions.filter(question=question), str(question)
        if course_id := request.GET.get("course"):
            if (pk := _id_or_none(course_id)) is None:
                raise Http404
            course = get_object_or_404(courses_for_user(user=request.user), pk=pk)
            return submissions.filter(question__course=course), course.code
        return submissions, "all your courses"

    def agreement_view(self, request):
        self._require(request)
        submissions, scope_title = self._agreement_scope(request)
        points = agreement_points(submissions=submissions)
        per_course = [
            (course, agreement_of(agreement_points(submissions=submissions.filter(question__course=course))))
            for course in courses_for_user(user=request.user).filter(pk__in=submissions.values("question__course"))
        ]
        per_question = [
            (question, agreement_of(agreement_points(submissions=submissions.filter(question=question))))
            for question in questions_for_user(user=request.user).filter(pk__in=submissions.values("question"))
        ]
        context = self._context(
            request,
            title=f"Agreement: {scope_title}",
            scope_title=scope_title,
            overall=agreement_of(points),
            trend=agreement_trend(points),
            per_course=per_course,
            per_question=per_question,
            query=request.GET.urlencode(),
        )
        return TemplateResponse(request, "admin/grader/submission/agreement.html", context)

    def scatter_png_view(self, request):
        self._require(request)
        submissions, scope_title = self._agreement_scope(request)
        png = figure_png(scatter_figure(agreement_points(submissions=submissions), title=scope_title))
        return HttpResponse(png, content_type="image/png")

    def trend_png_view(self, request):
        self._require(request)
        submissions, scope_title = self._agreement_scope(request)
        png = figure_png(trend_figure(agreement_trend(agreement_points(submissions=submissions)), title=scope_title))
        return HttpResponse(png, content_type="image/png")

    def _apply_group_grade(self, request, candidates) -> bool:
        """Grade the submissions ticked on a page (only among ``candidates``); True if something was recorded."""
        form = GroupGradeForm(request.POST)
        ids = [_id_or_none(value) for value in request.POST.getlist("submission")]
        chosen = candidates.filter(pk__in=[pk for pk in ids if pk is not None])
        if not form.is_valid() or not chosen.exists():
            messages.error(request, "Choose at least one answer and enter points.")
            return False
        try:
            corrections = submissions_grade_group(
                submissions=list(chosen),
                teacher=request.user,
                points=form.cleaned_data["points"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
            return False
        messages.success(request, f"Graded {len(corrections)} answer(s) with {form.cleaned_data['points']} points.")
        return True

    def groups_view(self, request, question_id: int):
        self._require(request, change=request.method == "POST")
        question = get_object_or_404(questions_for_user(user=request.user), pk=question_id)
        candidates = submissions_for_user(user=request.user).filter(question=question, status="graded")
        if request.method == "POST" and self._apply_group_grade(request, candidates):
            return redirect(request.path)
        try:
            groups = submission_groups(submissions=list(candidates.order_by("pk")))
        except NoActiveModelVersion:
            groups = None
        context = self._context(request, title=f"Similar answers: {question}", question=question, groups=groups)
        return TemplateResponse(request, "admin/grader/submission/groups.html", context)

    def similar_view(self, request, submission_id: int):
        self._require(request, change=request.method == "POST")
        submission = get_object_or_404(submissions_for_user(user=request.user), pk=submission_id)
        candidates = submissions_for_user(user=request.user).filter(question=submission.question, status="graded")
        if request.method == "POST" and self._apply_group_grade(request, candidates):
            return redirect(reverse("admin:grader_submission_change", args=[submission.pk]))
        # A grade awaiting review has no final points yet: the auto grade is where the teacher starts from.
        current = submission.points if submission.final_points is None else submission.final_points
        try:
            points = Decimal(request.GET.get("points") or current or 0)
        except (ArithmeticError, ValueError):
            raise Http404 from None
        if not points.is_finite() or not 0 <= points <= submission.question.max_points:
            # NaN, Infinity and points outside the question's range are no grade a teacher could give.
            raise Http404
        try:
            similar = submissions_changed_by_same_decision(
                submission=submission, points=points, candidates=list(candidates)
            )
        except NoActiveModelVersion:
            similar = []
        context = self._context(
            request,
            title=f"Fix one, fix many: answers like submission {submission.pk}",
            submission=submission,
            points=points,
            similar=similar,
            change_url=reverse("admin:grader_submission_change", args=[submission.pk]),
        )
        return TemplateResponse(request, "admin/grader/submission/similar.html", context)
