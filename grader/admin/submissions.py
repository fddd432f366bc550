"""Submissions in the admin: the review queue, corrections, groups, "fix one, fix many", agreement, CSV export."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, OuterRef, Subquery
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from django.utils.text import Truncator

from grader.admin.scoping import CourseScopedAdmin
from grader.models import Correction, Submission
from grader.services.grouping import submission_groups, submissions_changed_by_same_decision
from grader.services.model_versions import NoActiveModelVersion
from grader.services.review import corrections_undo, submissions_confirm_auto_grades, submissions_grade_group
from grader.services.submissions import correction_create
from grader.workspace.agreement import agreement_of, agreement_points, agreement_trend
from grader.workspace.charts import TREND_METRICS, figure_png, scatter_figure, trend_figure
from grader.workspace.explanation import submission_explanation
from grader.workspace.export import grades_csv
from grader.workspace.review_text import (
    STATUS_TEXT,
    confidence_percent,
    points_derivation_text,
    points_text,
    review_reason_texts,
    similarity_text,
)
from grader.workspace.selectors import (
    courses_for_user,
    questions_for_user,
    review_queue,
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


# The last group decision a teacher can take back: its corrections and which answers were awaiting review.
GROUP_UNDO_SESSION_KEY = "grader_group_undo"


class ReviewForm(forms.Form):
    """Accept or correct in one step: the points start at the auto grade; unchanged, they accept it."""

    points = forms.DecimalField(min_value=Decimal("0"), decimal_places=2)
    comment = forms.CharField(required=False, max_length=5000)


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
    # What a teacher decides on, narrow enough for a laptop screen beside the filters: the reasons a grade is held
    # back show on the status (hover) and on the review page, the similarity on the review page.
    list_display = [
        "student_ref", "answer_excerpt", "status_shown", "confidence_shown", "auto_points", "corrected_points",
        "corrected_by", "question",
    ]  # fmt: skip
    list_display_links = ["student_ref"]
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
        "best_reference_text", "model_version", "graded_at", "teacher_points", "corrected_by", "error", "created_at",
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
                    "best_reference_text",
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

    def get_list_display(self, request):
        # A list of one question's answers need not repeat the question on every row.
        if "question__id__exact" in request.GET:
            return [name for name in self.list_display if name != "question"]
        return self.list_display

    def get_changelist_form(self, request, **kwargs):
        return SubmissionListCorrectionForm

    @admin.display(description="answer")
    def answer_excerpt(self, submission: Submission) -> str:
        return Truncator(submission.answer).words(16, truncate=" …")

    @admin.display(description="similarity", ordering="similarity")
    def similarity_rounded(self, submission: Submission) -> str:
        return similarity_text(submission.similarity)

    @admin.display(description="auto points", ordering="points")
    def auto_points(self, submission: Submission) -> str:
        return points_text(submission.points, submission.question.max_points)

    @admin.display(description="best reference")
    def best_reference_text(self, submission: Submission) -> str:
        # The whole text: a reference cut mid-word reads as a different sentence.
        return "-" if submission.best_reference is None else submission.best_reference.text

    @admin.display(description="teacher's points")
    def teacher_points(self, submission: Submission) -> str:
        return points_text(submission.corrected_points, submission.question.max_points)

    @admin.display(description="status", ordering="status")
    def status_text(self, submission: Submission) -> str:
        return STATUS_TEXT.get(submission.status, submission.status)

    @admin.display(description="status", ordering="status")
    def status_shown(self, submission: Submission) -> str:
        reasons = " ".join(review_reason_texts(submission.review_reason_list))
        if submission.status != Submission.Status.NEEDS_REVIEW or not reasons:
            return self.status_text(submission)
        return format_html('<span title="{}">{} ⓘ</span>', reasons, self.status_text(submission))

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
        # The time on hover: the column stays narrow.
        return format_html('<span title="{}">{}</span>', f"{submission.latest_corrected_at:%Y-%m-%d %H:%M}", teacher)

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
        confirmed = len(submissions_confirm_auto_grades(submissions=queryset, teacher=request.user))
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
            path("review/next/", wrap(self.review_next_view), name="grader_submission_review_next"),
            path("review/<int:submission_id>/", wrap(self.review_answer_view), name="grader_submission_review_answer"),
            path("agreement/", wrap(self.agreement_view), name="grader_submission_agreement"),
            path("agreement/scatter.png", wrap(self.scatter_png_view), name="grader_submission_agreement_scatter"),
            path("agreement/trend.png", wrap(self.trend_png_view), name="grader_submission_agreement_trend"),
            path("groups/<int:question_id>/", wrap(self.groups_view), name="grader_submission_groups"),
            path("groups/<int:question_id>/undo/", wrap(self.group_undo_view), name="grader_submission_groups_undo"),
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

    def _review_queue_scope(self, request):
        """``?question=`` (404 if not the teacher's) narrows the queue to one question; else all their courses."""
        if (question_id := request.GET.get("question")) is None:
            return None
        if (pk := _id_or_none(question_id)) is None:
            raise Http404
        return get_object_or_404(questions_for_user(user=request.user), pk=pk)

    def review_next_view(self, request):
        """The first answer waiting in the queue (of ``?question=``, else of all the teacher's courses)."""
        self._require(request)
        question = self._review_queue_scope(request)
        first = review_queue(user=request.user, question=question).values_list("pk", flat=True).first()
        if first is None:
            messages.info(request, "Nothing waits for your review here.")
            return redirect(reverse("admin:index"))
        scope = f"?question={question.pk}" if question is not None else ""
        return redirect(reverse("admin:grader_submission_review_answer", args=[first]) + scope)

    def review_answer_view(self, request, submission_id: int):
        """One answer of the review queue: read it beside its explanation, accept or correct, go on to the next."""
        self._require(request, change=request.method == "POST")
        submission = get_object_or_404(submissions_for_user(user=request.user), pk=submission_id)
        question = self._review_queue_scope(request)
        queue = list(review_queue(user=request.user, question=question).values_list("pk", flat=True))
        previous_id, next_id, position = _neighbours(queue, submission.pk)
        scope = f"?question={question.pk}" if question is not None else ""
        form = ReviewForm(request.POST or None, initial={"points": _initial_points(submission)})
        if request.method == "POST" and self._record_review(request, submission, form):
            if next_id is None:
                messages.info(request, "Nothing else waits for you in this queue.")
                return redirect(reverse("admin:index"))
            return redirect(reverse("admin:grader_submission_review_answer", args=[next_id]) + scope)
        explanation = submission_explanation(submission=submission)
        context = self._context(
            request,
            title=f"Review: {submission.question.key}, {submission.student_ref}",
            subtitle=None,
            submission=submission,
            question=submission.question,
            queue_question=question,
            scope=scope,
            form=form,
            explanation=explanation,
            derivation=_derivation(explanation, submission) if explanation else "",
            status=self.status_text(submission),
            auto_points_text=self.auto_points(submission),
            teacher_points_text=self.teacher_points(submission),
            similarity=similarity_text(submission.similarity),
            confidence=confidence_percent(submission.confidence),
            reasons=review_reason_texts(submission.review_reason_list),
            can_accept=submission.points is not None and submission.corrected_points is None,
            previous_id=previous_id,
            next_id=next_id,
            position=position,
            queue_length=len(queue),
        )
        return TemplateResponse(request, "admin/grader/submission/review_answer.html", context)

    def _record_review(self, request, submission: Submission, form: ReviewForm) -> bool:
        """Accept (the button, or the auto grade's points unchanged and no comment) or correct; False if nothing
        was recorded."""
        if "accept" in request.POST:
            return self._accept(request, submission)
        if not form.is_valid():
            return False
        points, comment = form.cleaned_data["points"], form.cleaned_data["comment"]
        if points == submission.points and not comment and submission.corrected_points is None:
            return self._accept(request, submission)
        try:
            correction_create(submission=submission, teacher=request.user, points=points, comment=comment)
        except ValidationError as error:
            form.add_error("points", "; ".join(error.messages))
            return False
        max_points = submission.question.max_points
        messages.success(request, f"Graded {submission.student_ref}: {points_text(points, max_points)}.")
        return True

    def _accept(self, request, submission: Submission) -> bool:
        # The same service as the list's "accept" action: a correction with the auto points, releasing the grade.
        if submissions_confirm_auto_grades(submissions=[submission], teacher=request.user):
            messages.success(
                request, f"Accepted the auto grade of {submission.student_ref}: {self.auto_points(submission)}."
            )
            return True
        # A colleague graded it meanwhile, or it is not graded: their grade stands.
        messages.warning(request, "Nothing accepted: this answer has no auto grade or already has a teacher's.")
        return False

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
            query=_scope_query(request),
            trend_metrics=TREND_METRICS,
        )
        return TemplateResponse(request, "admin/grader/submission/agreement.html", context)

    def scatter_png_view(self, request):
        self._require(request)
        submissions, scope_title = self._agreement_scope(request)
        png = figure_png(scatter_figure(agreement_points(submissions=submissions), title=scope_title))
        return HttpResponse(png, content_type="image/png")

    def trend_png_view(self, request):
        self._require(request)
        metric = request.GET.get("metric", "pearson")
        if metric not in TREND_METRICS:
            raise Http404
        submissions, scope_title = self._agreement_scope(request)
        trend = agreement_trend(agreement_points(submissions=submissions))
        png = figure_png(trend_figure(trend, title=scope_title, metric=metric))
        return HttpResponse(png, content_type="image/png")

    def _apply_group_grade(self, request, candidates) -> bool:
        """Grade or accept the submissions ticked on a page (only among ``candidates``); True if something was
        recorded. What was recorded can be undone from the page (``group_undo_view``) until the next decision."""
        ids = [_id_or_none(value) for value in request.POST.getlist("submission")]
        chosen = list(candidates.filter(pk__in=[pk for pk in ids if pk is not None]))
        if not chosen:
            messages.error(request, "Tick at least one answer.")
            return False
        held_back = [s.pk for s in chosen if s.status == Submission.Status.NEEDS_REVIEW]
        if "accept" in request.POST:
            corrections = submissions_confirm_auto_grades(submissions=chosen, teacher=request.user)
            done = f"Accepted the auto grades of {len(corrections)} answer(s)"
        else:
            form = GroupGradeForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Enter points, or accept the auto grades.")
                return False
            try:
                corrections = submissions_grade_group(
                    submissions=chosen,
                    teacher=request.user,
                    points=form.cleaned_data["points"],
                    comment=form.cleaned_data["comment"],
                )
            except ValidationError as error:
                messages.error(request, "; ".join(error.messages))
                return False
            points = points_text(form.cleaned_data["points"], chosen[0].question.max_points)
            done = f"Gave {len(corrections)} answer(s) {points}"
        request.session[GROUP_UNDO_SESSION_KEY] = {
            "question": chosen[0].question_id,
            "corrections": [correction.pk for correction in corrections],
            "held_back": held_back,
            "done": done,
        }
        messages.success(request, f"{done}. You can undo it on the groups page.")
        return True

    def groups_view(self, request, question_id: int):
        self._require(request, change=request.method == "POST")
        question = get_object_or_404(questions_for_user(user=request.user), pk=question_id)
        # Held-back answers too: grading a group settles them like any correction.
        candidates = submissions_for_user(user=request.user).filter(question=question, points__isnull=False)
        if request.method == "POST" and self._apply_group_grade(request, candidates):
            return redirect(request.path)
        try:
            groups = submission_groups(submissions=list(candidates.order_by("pk")))
        except NoActiveModelVersion:
            groups = None
        undo = request.session.get(GROUP_UNDO_SESSION_KEY)
        context = self._context(
            request,
            title=f"Groups of similar answers: {question.course.code} · {question.key}",
            question=question,
            groups=groups,
            answers=sum(len(group.submissions) for group in groups or []),
            group_tables=[[self._group_row(submission) for submission in group.submissions] for group in groups or []],
            undo=undo if undo and undo.get("question") == question.pk else None,
        )
        return TemplateResponse(request, "admin/grader/submission/groups.html", context)

    def _group_row(self, submission: Submission) -> dict:
        max_points = submission.question.max_points
        return {
            "submission": submission,
            "status": self.status_text(submission),
            "held_back": submission.status == Submission.Status.NEEDS_REVIEW,
            "auto": points_text(submission.points, max_points),
            "teacher": points_text(submission.corrected_points, max_points),
        }

    def group_undo_view(self, request, question_id: int):
        """POST only: take back the last group decision on this question (corrections made since stand)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require(request, change=True)
        question = get_object_or_404(questions_for_user(user=request.user), pk=question_id)
        undo = request.session.get(GROUP_UNDO_SESSION_KEY)
        if not undo or undo.get("question") != question.pk:
            messages.warning(request, "Nothing to undo.")
            return redirect(reverse("admin:grader_submission_groups", args=[question.pk]))
        del request.session[GROUP_UNDO_SESSION_KEY]
        undone = corrections_undo(
            corrections=undo["corrections"], teacher=request.user, held_back_submission_ids=undo["held_back"]
        )
        kept = len(undo["corrections"]) - undone
        note = f"; {kept} kept: graded again since" if kept else ""
        messages.success(request, f"Undone for {undone} answer(s){note}.")
        return redirect(reverse("admin:grader_submission_groups", args=[question.pk]))

    def similar_view(self, request, submission_id: int):
        self._require(request, change=request.method == "POST")
        submission = get_object_or_404(submissions_for_user(user=request.user), pk=submission_id)
        candidates = submissions_for_user(user=request.user).filter(question=submission.question, points__isnull=False)
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


def _neighbours(queue: list[int], current: int) -> tuple[int | None, int | None, int | None]:
    """The answers before and after ``current`` in the queue and its 1-based position; an answer no longer in the
    queue (just graded) leads to the queue's first."""
    if current not in queue:
        return None, (queue[0] if queue else None), None
    index = queue.index(current)
    previous_id = queue[index - 1] if index > 0 else None
    next_id = queue[index + 1] if index + 1 < len(queue) else None
    return previous_id, next_id, index + 1


def _initial_points(submission: Submission) -> str:
    """The teacher's grade if there is one, else the auto grade ("2.5", not "2.50"): Enter on an unchanged field
    accepts it."""
    points = submission.corrected_points if submission.corrected_points is not None else submission.points
    return "" if points is None else f"{points.normalize():f}"


def _derivation(explanation, submission: Submission) -> str:
    decision = explanation.score.decision
    return points_derivation_text(
        similarity=explanation.score.similarity,
        zero_credit=explanation.zero_credit,
        full_credit=explanation.full_credit,
        cold_fraction=decision.cold_fraction,
        fraction=decision.fraction,
        step=explanation.step,
        points=decision.points,
        max_points=submission.question.max_points,
    )


def _scope_query(request) -> str:
    """The agreement page's scope (``question`` or ``course``) for its charts' URLs, without other parameters."""
    scope = QueryDict(mutable=True)
    for name in ("question", "course"):
        if name in request.GET:
            scope[name] = request.GET[name]
    return scope.urlencode()
