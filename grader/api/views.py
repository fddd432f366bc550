"""Thin views: parse, authorize by scoping the queryset to the calling integration, call one service."""

from __future__ import annotations

from rest_framework import generics, mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from grader import selectors
from grader.api.serializers import (
    CourseSerializer,
    QuestionInputSerializer,
    QuestionOutputSerializer,
    SubmissionInputSerializer,
    SubmissionOutputSerializer,
)
from grader.services.courses import course_create, question_create
from grader.services.submissions import submission_create


class CourseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CourseSerializer

    def get_queryset(self):
        return selectors.courses_for_integration(integration=self.request.user)

    def create(self, request: Request) -> Response:
        serializer = CourseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course = course_create(integration=request.user, **serializer.validated_data)
        return Response(CourseSerializer(course).data, status=status.HTTP_201_CREATED)


class QuestionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = QuestionOutputSerializer

    def get_queryset(self):
        return selectors.questions_for_integration(integration=self.request.user).prefetch_related("reference_answers")

    def create(self, request: Request) -> Response:
        serializer = QuestionInputSerializer(
            data=request.data, courses=selectors.courses_for_integration(integration=request.user)
        )
        serializer.is_valid(raise_exception=True)
        question = question_create(**serializer.validated_data)
        return Response(QuestionOutputSerializer(question).data, status=status.HTTP_201_CREATED)


class SubmissionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = SubmissionOutputSerializer

    def get_queryset(self):
        return selectors.submissions_for_integration(integration=self.request.user)

    def create(self, request: Request) -> Response:
        serializer = SubmissionInputSerializer(
            data=request.data, questions=selectors.questions_for_integration(integration=request.user)
        )
        serializer.is_valid(raise_exception=True)
        submission, created = submission_create(integration=request.user, **serializer.validated_data)
        body = SubmissionOutputSerializer(submission, context={"request": request}).data
        # 202: accepted for grading, never graded inside the request. A replay returns the first submission.
        return Response(
            body,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
            headers={"Location": str(body["url"])},
        )


class HealthView(generics.GenericAPIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})
