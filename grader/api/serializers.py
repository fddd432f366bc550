"""Input serializers list only what a client may write; output serializers show the rest."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from grader.models import Course, Question, Submission


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "code", "name", "created_at"]
        read_only_fields = ["id", "created_at"]


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

    def validate(self, attrs: dict) -> dict:
        if Question.objects.filter(course=attrs["course"], key=attrs["key"]).exists():
            raise serializers.ValidationError({"key": "This course already has a question with this key."})
        return attrs


class QuestionOutputSerializer(serializers.ModelSerializer):
    reference_answers = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = ["id", "course", "key", "prompt", "max_points", "reference_answers", "created_at", "updated_at"]

    def get_reference_answers(self, question: Question) -> list[dict]:
        return [{"id": reference.id, "text": reference.text} for reference in question.reference_answers.all()]


class SubmissionInputSerializer(serializers.Serializer):
    question = serializers.PrimaryKeyRelatedField(
        queryset=Question.objects.none(),
        error_messages={"does_not_exist": "Unknown question.", "incorrect_type": "Give the question's id."},
    )
    student_ref = serializers.CharField(max_length=200)
    answer = serializers.CharField(max_length=settings.GRADER_ANSWER_MAX_CHARS, trim_whitespace=False)
    external_id = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=False)

    def __init__(self, *args, questions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["question"].queryset = questions if questions is not None else Question.objects.none()

    def validate_answer(self, answer: str) -> str:
        if not answer.strip():
            raise serializers.ValidationError("The answer is empty.")
        return answer


class SubmissionOutputSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:submission-detail")
    model_version = serializers.SlugRelatedField(slug_field="name", read_only=True)
    final_points = serializers.DecimalField(max_digits=6, decimal_places=2, read_only=True, allow_null=True)

    class Meta:
        model = Submission
        fields = [
            "id",
            "url",
            "question",
            "student_ref",
            "external_id",
            "answer",
            "status",
            "similarity",
            "points",
            "corrected_points",
            "final_points",
            "model_version",
            "graded_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
