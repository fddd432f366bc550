"""Input serializers list only what a client may write; output serializers show the rest."""

from __future__ import annotations

import copy
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from grader.models import Correction, Course, ModelVersion, Question, Submission, WebhookEndpoint

MAX_ID = 2**63 - 1


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. invalid, not_found, throttled.")
    message = serializers.CharField(help_text="For humans; may change.")
    fields = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Per-field messages, on validation errors only."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "code", "name", "archived_at", "created_at"]
        read_only_fields = ["id", "archived_at", "created_at"]


class CourseUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class CourseTeacherInputSerializer(serializers.Serializer):
    username = serializers.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="The teacher's username in grader (what corrections name); the same as in your LMS is simplest.",
    )
    email = serializers.EmailField(
        required=False, allow_blank=True, default="", help_text="Stored only when the account is created now."
    )


class CourseTeacherSerializer(serializers.Serializer):
    username = serializers.CharField()
    admin_access = serializers.SerializerMethodField(
        help_text="Whether the account can log in to the admin now; false for one created through the API until "
        "an operator gives it a password and the teacher permissions."
    )

    def get_admin_access(self, teacher) -> bool:
        from grader.services.course_teachers import may_use_admin

        return may_use_admin(teacher)


class QuestionInputSerializer(serializers.Serializer):
    course = serializers.PrimaryKeyRelatedField(queryset=Course.objects.none())
    key = serializers.SlugField(max_length=64)
    prompt = serializers.CharField(max_length=5000)
    max_points = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal("0.5"), max_value=Decimal("1000")
    )
    reference_answers = serializers.ListField(
        child=serializers.CharField(max_length=settings.GRADER_REFERENCE_MAX_CHARS), min_length=1, max_length=20
    )

    def __init__(self, *args, courses=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = courses if courses is not None else Course.objects.none()

    def validate_course(self, course: Course) -> Course:
        # The scope includes archived courses so that the refusal says why, instead of "does not exist".
        if course.archived_at is not None:
            raise serializers.ValidationError("This course is archived; it accepts no new questions.")
        return course

    def validate(self, attrs: dict) -> dict:
        if Question.objects.filter(course=attrs["course"], key=attrs["key"]).exists():
            raise serializers.ValidationError({"key": "This course already has a question with this key."})
        return attrs


class QuestionUpdateSerializer(serializers.Serializer):
    """Course and key identify a question for the LMS and never change."""

    prompt = serializers.CharField(max_length=5000, required=False)
    max_points = serializers.DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal("0.5"), max_value=Decimal("1000"), required=False
    )
    reference_answers = serializers.ListField(
        child=serializers.CharField(max_length=settings.GRADER_REFERENCE_MAX_CHARS),
        min_length=1,
        max_length=20,
        required=False,
        help_text="Replaces the set; references whose text is unchanged keep their id.",
    )


class ReferenceAnswerSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    text = serializers.CharField(read_only=True)


class QuestionOutputSerializer(serializers.ModelSerializer):
    reference_answers = ReferenceAnswerSerializer(many=True, read_only=True)

    class Meta:
        model = Question
        fields = [
            "id",
            "course",
            "key",
            "prompt",
            "max_points",
            "reference_answers",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class QuestionField(serializers.PrimaryKeyRelatedField):
    """A question id, looked up in ``known`` when the caller fetched the request's questions at once (the bulk
    endpoint: one query for 100 items instead of 100). Anything not plainly an id goes through the usual query,
    so the errors are the same either way."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.known: dict[int, Question] | None = None

    def to_internal_value(self, data):
        pk = _plain_id(data) if self.known is not None else None
        if pk is not None:
            question = self.known.get(pk)
            if question is None:
                self.fail("does_not_exist", pk_value=data)
            return question
        return super().to_internal_value(data)


def _plain_id(data) -> int | None:
    if type(data) is int:
        return data
    if isinstance(data, str) and data.isascii() and data.isdigit() and len(data) < 19:
        return int(data)
    return None


class SubmissionInputSerializer(serializers.Serializer):
    question = QuestionField(
        queryset=Question.objects.none(),
        error_messages={"does_not_exist": "Unknown question.", "incorrect_type": "Give the question's id."},
    )
    student_ref = serializers.CharField(max_length=200)
    answer = serializers.CharField(max_length=settings.GRADER_ANSWER_MAX_CHARS, trim_whitespace=False)
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=False)

    def __init__(self, *args, questions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["question"].queryset = questions if questions is not None else Question.objects.none()

    def validate_question(self, question: Question) -> Question:
        # The scope includes archived questions so that the refusal says why, instead of "Unknown question.".
        if question.archived_at is not None:
            raise serializers.ValidationError("This question is archived; it accepts no new submissions.")
        if question.course.archived_at is not None:
            raise serializers.ValidationError("This question's course is archived; it accepts no new submissions.")
        return question

    def validate_answer(self, answer: str) -> str:
        if not answer.strip():
            raise serializers.ValidationError("The answer is empty.")
        return answer


class BulkSubmissionInputSerializer(serializers.Serializer):
    submissions = SubmissionInputSerializer(many=True, min_length=1, max_length=settings.GRADER_API_BULK_MAX)

    def __init__(self, *args, questions=None, **kwargs):
        super().__init__(*args, **kwargs)
        child = self.fields["submissions"].child
        child.fields["question"].queryset = questions if questions is not None else Question.objects.none()

    def to_internal_value(self, data):
        items = data.get("submissions") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) <= settings.GRADER_API_BULK_MAX:
            question_field = self.fields["submissions"].child.fields["question"]
            ids = {_plain_id(item.get("question")) for item in items if isinstance(item, dict)} - {None}
            question_field.known = question_field.get_queryset().in_bulk(ids) if ids else {}
        return super().to_internal_value(data)


CONFIDENCE_HELP = (
    "Probability (0 to 1) that a teacher would put the answer on the same side of the pass mark as the auto "
    "grade; null until graded."
)
REVIEW_REASONS_HELP = (
    "What the scoring step flagged: low_confidence, question_copy, negation, keyword_salad, padding (the grade "
    "then awaits a teacher, status needs_review) or blank (an empty answer, graded 0; the API refuses empty answers "
    "with a 400, so none it accepted carries it). More may be added."
)
FINAL_POINTS_HELP = (
    "The grade to record: the teacher's latest correction, else the auto grade. Null until graded and while the "
    "auto grade awaits a teacher (status needs_review); a teacher's correction or confirmation then sets it."
)


class FieldsBuiltOnce:
    """A ModelSerializer that introspects its model once per class, not once per object it serializes.

    ModelSerializer.get_fields() rebuilds every field from the model's metadata for each new serializer: on
    POST /submissions/, the hottest path, that was most of the response's cost. The fields depend only on the class
    (Meta and the declared fields), so a copy of the first build is the same thing.
    """

    def get_fields(self):
        prototypes = type(self).__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()
            type(self)._field_prototypes = prototypes
        return copy.deepcopy(prototypes)


class SubmissionOutputSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:submission-detail")
    grade_url = serializers.HyperlinkedIdentityField(view_name="api:submission-grade")
    course = serializers.IntegerField(source="question.course_id", read_only=True)
    model_version = serializers.SlugRelatedField(slug_field="name", read_only=True)
    final_points = serializers.DecimalField(
        max_digits=6, decimal_places=2, read_only=True, allow_null=True, help_text=FINAL_POINTS_HELP
    )
    confidence = serializers.FloatField(read_only=True, allow_null=True, help_text=CONFIDENCE_HELP)
    review_reasons = serializers.ListField(
        source="review_reason_list", child=serializers.CharField(), read_only=True, help_text=REVIEW_REASONS_HELP
    )

    class Meta:
        model = Submission
        fields = [
            "id",
            "url",
            "grade_url",
            "course",
            "question",
            "student_ref",
            "external_id",
            "answer",
            "status",
            "similarity",
            "points",
            "confidence",
            "review_reasons",
            "corrected_points",
            "final_points",
            "model_version",
            "created_at",
            "grading_started_at",
            "graded_at",
            "updated_at",
        ]
        read_only_fields = fields


class BulkSubmissionOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    created_count = serializers.IntegerField(help_text="Submissions this request created; the rest were replays.")
    results = SubmissionOutputSerializer(many=True)


class SubmissionFilterSerializer(serializers.Serializer):
    course = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    question = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    status = serializers.ChoiceField(choices=Submission.Status.choices, required=False)
    student = serializers.CharField(required=False, max_length=200, help_text="The LMS's student_ref.")
    updated_since = serializers.DateTimeField(
        required=False,
        help_text="Only submissions changed at or after this time; the list is then ordered by updated_at.",
    )


class CorrectionOutputSerializer(serializers.ModelSerializer):
    teacher = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Correction
        fields = ["id", "points", "comment", "teacher", "auto_points", "created_at"]
        read_only_fields = fields


class AutoGradeSerializer(serializers.Serializer):
    points = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    similarity = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True, help_text=CONFIDENCE_HELP)
    review_reasons = serializers.ListField(child=serializers.CharField(), help_text=REVIEW_REASONS_HELP)
    model_version = serializers.CharField(allow_null=True)
    best_reference = ReferenceAnswerSerializer(allow_null=True)
    graded_at = serializers.DateTimeField(allow_null=True)


class GradeSerializer(serializers.Serializer):
    """The auto grade and every teacher correction beside it; the latest correction wins."""

    submission = serializers.IntegerField(source="pk")
    status = serializers.ChoiceField(choices=Submission.Status.choices)
    max_points = serializers.DecimalField(source="question.max_points", max_digits=6, decimal_places=2)
    final_points = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True, help_text=FINAL_POINTS_HELP
    )
    source = serializers.SerializerMethodField()
    auto = serializers.SerializerMethodField()
    corrections = CorrectionOutputSerializer(many=True)

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["none", "auto", "teacher"],
            help_text="Where final_points comes from; none while there is no final grade (not graded yet, or the "
            "auto grade awaits a teacher: status needs_review).",
        )
    )
    def get_source(self, submission: Submission) -> str:
        if submission.corrected_points is not None:
            return "teacher"
        return "auto" if submission.final_points is not None else "none"

    @extend_schema_field(AutoGradeSerializer)
    def get_auto(self, submission: Submission) -> dict:
        reference = submission.best_reference
        return AutoGradeSerializer(
            {
                "points": submission.points,
                "similarity": submission.similarity,
                "confidence": submission.confidence,
                "review_reasons": submission.review_reason_list,
                "model_version": submission.model_version.name if submission.model_version_id else None,
                "best_reference": {"id": reference.pk, "text": reference.text} if reference else None,
                "graded_at": submission.graded_at,
            }
        ).data


class CorrectionInputSerializer(serializers.Serializer):
    points = serializers.DecimalField(max_digits=6, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("1000"))
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    teacher = serializers.CharField(
        max_length=150,
        required=False,
        help_text="Username of the course's teacher the correction is recorded for. Required with an integration "
        "token (scope corrections:write); ignored with teacher credentials, where it is the caller.",
    )


class ModelVersionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    comparison = serializers.SerializerMethodField(
        help_text="This version beside the one it replaced (or would replace), as the gate judged them on held-out "
        "answers teachers corrected: RMSE, Pearson and pass/fail accuracy with their bootstrap intervals, the "
        "corrections each learned from, the verdict in one sentence (reason) and the dry run's diff of existing "
        "grades. Null for versions judged before it was recorded and for the first version."
    )

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "status", "parent", "metrics", "comparison", "created_at", "activated_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "nullable": True})
    def get_comparison(self, version: ModelVersion) -> dict | None:
        comparison = (version.evaluation or {}).get("comparison")
        if not comparison:
            return None
        dry_run = comparison.get("dry_run")
        if dry_run:
            # Examples of any course: their points only, no submission ids or course codes.
            examples = [{key: e[key] for key in ("max_points", "points", "new_points")} for e in dry_run["examples"]]
            dry_run = {**dry_run, "examples": examples}
        return {**comparison, "dry_run": dry_run}


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.Event.choices),
        max_length=len(WebhookEndpoint.Event.choices),
        read_only=True,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "created_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: verify X-Grader-Signature with it.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.Event.choices),
        max_length=len(WebhookEndpoint.Event.choices),
        required=False,
        help_text="Empty or absent: every event.",
    )
