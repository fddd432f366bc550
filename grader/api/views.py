"""Thin views: parse, authorize by scoping the queryset to the caller, call one service."""

from __future__ import annotations

import json

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView
from rest_framework import authentication, exceptions, generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from grader import selectors
from grader.api.authentication import IntegrationTokenAuthentication, ThrottledBasicAuthentication
from grader.api.permissions import MayCorrect, is_integration
from grader.api.serializers import (
    BulkSubmissionInputSerializer,
    BulkSubmissionOutputSerializer,
    CorrectionInputSerializer,
    CourseSerializer,
    CourseTeacherInputSerializer,
    CourseTeacherSerializer,
    CourseUpdateSerializer,
    GradeSerializer,
    ModelVersionSerializer,
    QuestionInputSerializer,
    QuestionOutputSerializer,
    QuestionUpdateSerializer,
    SubmissionFilterSerializer,
    SubmissionInputSerializer,
    SubmissionOutputSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointSerializer,
)
from grader.models import Correction, Course, Submission
from grader.services.course_teachers import (
    course_teacher_add_for_integration,
    course_teacher_remove,
    course_teachers,
)
from grader.services.courses import (
    course_archive,
    course_create,
    course_update,
    question_archive,
    question_create,
    question_update,
)
from grader.services.idempotency import IdempotencyKeyReused, idempotent_submissions, request_fingerprint
from grader.services.submissions import correction_create, submission_create, submissions_create_many
from grader.services.webhooks import webhook_endpoint_create, webhook_endpoint_deactivate

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string up to 200 characters. A retry with the same key returns the first result "
    "(200) instead of creating anything; the same key with a different body is a 422.",
)


class IdempotencyKeyConflict(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used for a different request."


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise exceptions.ValidationError({"Idempotency-Key": ["Give 1 to 200 printable characters."]})
    return key


INCLUDE_ARCHIVED = OpenApiParameter("include_archived", OpenApiTypes.BOOL, description="Also list archived ones.")


def _include_archived(view: viewsets.GenericViewSet) -> bool:
    # Lists hide archived objects unless asked; an archived object stays readable and archivable by id.
    return view.action != "list" or view.request.query_params.get("include_archived") == "true"


@extend_schema_view(
    list=extend_schema(summary="Courses this integration may use", parameters=[INCLUDE_ARCHIVED]),
    create=extend_schema(summary="Create a course; it joins this integration's scope"),
    partial_update=extend_schema(request=CourseUpdateSerializer, summary="Rename a course"),
    archive=extend_schema(request=None, summary="Archive a course: it accepts no new questions or submissions"),
)
class CourseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CourseSerializer
    # DELETE only takes a teacher off a course; there is no destroy action (DELETE on a course itself is a 405).
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.courses_for_integration(
            integration=self.request.user, include_archived=_include_archived(self)
        )

    def create(self, request: Request) -> Response:
        serializer = CourseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course = course_create(integration=request.user, **serializer.validated_data)
        return Response(CourseSerializer(course).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        course = self.get_object()
        serializer = CourseUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(CourseSerializer(course_update(course=course, **serializer.validated_data)).data)

    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk=None) -> Response:
        return Response(CourseSerializer(course_archive(course=self.get_object())).data)

    @extend_schema(
        methods=["GET"], request=None, responses=CourseTeacherSerializer(many=True), summary="The course's teachers"
    )
    @extend_schema(
        methods=["POST"],
        request=CourseTeacherInputSerializer,
        responses={201: CourseTeacherSerializer, 200: CourseTeacherSerializer},
        summary="Add a teacher to the course",
        description="201 when added, 200 when already a teacher (nothing changed). An unknown username creates an "
        "account without admin access; a known one must already teach one of your courses, else 400. See docs/api.md.",
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def teachers(self, request: Request, pk=None) -> Response:
        course = self.get_object()
        if request.method == "GET":
            return Response(CourseTeacherSerializer(course_teachers(course=course), many=True).data)
        serializer = CourseTeacherInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = course_teacher_add_for_integration(
            course=course, integration=request.user, **serializer.validated_data
        )
        return Response(
            CourseTeacherSerializer(result.teacher).data,
            status=status.HTTP_201_CREATED if result.added else status.HTTP_200_OK,
        )

    @extend_schema(
        request=None,
        responses={204: None},
        summary="Remove a teacher from the course",
        description="The account stays; only its link to this course goes. 204 also when it was not a teacher.",
    )
    @action(detail=True, methods=["delete"], url_path=r"teachers/(?P<username>[^/]+)", url_name="teacher")
    def remove_teacher(self, request: Request, pk=None, username: str = "") -> Response:
        course_teacher_remove(course=self.get_object(), username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="Questions of this integration's courses",
        parameters=[
            OpenApiParameter(
                "include_archived",
                OpenApiTypes.BOOL,
                description="Also list archived ones, and the questions of archived courses.",
            )
        ],
    ),
    create=extend_schema(request=QuestionInputSerializer, summary="Create a question with its reference answers"),
    partial_update=extend_schema(request=QuestionUpdateSerializer, summary="Edit a question"),
    archive=extend_schema(request=None, summary="Archive a question: it accepts no new submissions"),
)
class QuestionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = QuestionOutputSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.questions_for_integration(
            integration=self.request.user, include_archived=_include_archived(self)
        ).prefetch_related("reference_answers")

    def create(self, request: Request) -> Response:
        serializer = QuestionInputSerializer(
            data=request.data,
            courses=selectors.courses_for_integration(integration=request.user, include_archived=True),
        )
        serializer.is_valid(raise_exception=True)
        question = question_create(**serializer.validated_data)
        return Response(QuestionOutputSerializer(question).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        question = self.get_object()
        serializer = QuestionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        question = question_update(question=question, **serializer.validated_data)
        return Response(QuestionOutputSerializer(question).data)

    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk=None) -> Response:
        return Response(QuestionOutputSerializer(question_archive(question=self.get_object())).data)


@extend_schema_view(
    list=extend_schema(summary="Submissions of this integration's courses", parameters=[SubmissionFilterSerializer]),
    retrieve=extend_schema(summary="One submission: status, timestamps and grade"),
)
class SubmissionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = SubmissionOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Submission.objects.none()
        if self.action == "corrections" and not is_integration(self.request.user):
            return selectors.submissions_for_teacher(user=self.request.user)
        return selectors.submissions_for_integration(integration=self.request.user)

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        filters = SubmissionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        lookups = {
            "course": "question__course_id",
            "question": "question_id",
            "status": "status",
            "student": "student_ref",
            "updated_since": "updated_at__gte",
        }
        queryset = queryset.filter(**{lookups[name]: value for name, value in wanted.items()})
        if "updated_since" in wanted:
            # Oldest change first, so a poller can page forward and remember the last updated_at it saw.
            queryset = queryset.order_by("updated_at", "id")
        return queryset

    def _respond(self, submission: Submission, *, created: bool) -> Response:
        body = SubmissionOutputSerializer(submission, context={"request": self.request}).data
        # 202: accepted for grading, never graded inside the request. A replay returns the first submission.
        return Response(
            body,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
            headers={"Location": str(body["url"])},
        )

    @extend_schema(
        request=SubmissionInputSerializer,
        responses={202: SubmissionOutputSerializer, 200: SubmissionOutputSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Submit an answer for grading",
    )
    def create(self, request: Request) -> Response:
        key = _idempotency_key(request)
        serializer = SubmissionInputSerializer(
            data=request.data,
            questions=selectors.questions_for_integration(integration=request.user, include_archived=True),
        )
        serializer.is_valid(raise_exception=True)
        outcome: dict = {}

        def create() -> list[int]:
            outcome["submission"], outcome["created"] = submission_create(
                integration=request.user, **serializer.validated_data
            )
            return [outcome["submission"].pk]

        if key is None:
            create()
        else:
            result = self._idempotent(key, create)
            if result.replayed:
                # The key's first request created the submission; this one reads it back, in the caller's scope.
                return self._respond(self.get_queryset().get(pk=result.submission_ids[0]), created=False)
        # The row just written (or found as a replay of its external_id) is answered as is: no second read.
        return self._respond(outcome["submission"], created=outcome["created"])

    @extend_schema(
        request=BulkSubmissionInputSerializer,
        responses={202: BulkSubmissionOutputSerializer, 200: BulkSubmissionOutputSerializer},
        parameters=[IDEMPOTENCY_KEY],
        summary="Submit many answers at once (all or none)",
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        key = _idempotency_key(request)
        serializer = BulkSubmissionInputSerializer(
            data=request.data,
            questions=selectors.questions_for_integration(integration=request.user, include_archived=True),
        )
        serializer.is_valid(raise_exception=True)
        created_count = 0

        def create() -> list[int]:
            nonlocal created_count
            results = submissions_create_many(integration=request.user, items=serializer.validated_data["submissions"])
            created_count = sum(created for _, created in results)
            return [submission.pk for submission, _ in results]

        if key is None:
            ids = create()
        else:
            result = self._idempotent(key, create)
            ids = result.submission_ids
            created_count = 0 if result.replayed else created_count
        by_id = self.get_queryset().in_bulk(ids)
        results = SubmissionOutputSerializer([by_id[pk] for pk in ids], many=True, context={"request": request}).data
        return Response(
            {"count": len(ids), "created_count": created_count, "results": results},
            status=status.HTTP_202_ACCEPTED if created_count else status.HTTP_200_OK,
        )

    def _idempotent(self, key: str, create):
        fingerprint = request_fingerprint(
            method=self.request.method,
            path=self.request.path,
            body=json.dumps(self.request.data, sort_keys=True, default=str).encode(),
        )
        try:
            return idempotent_submissions(
                integration=self.request.user, key=key, fingerprint=fingerprint, create=create
            )
        except IdempotencyKeyReused as error:
            raise IdempotencyKeyConflict() from error

    def _grade_queryset(self):
        corrections = Correction.objects.select_related("teacher").order_by("-created_at", "-pk")
        return (
            self.get_queryset()
            .select_related("best_reference")
            .prefetch_related(Prefetch("corrections", queryset=corrections))
        )

    @extend_schema(responses=GradeSerializer, summary="The auto grade and the teachers' corrections")
    @action(detail=True, methods=["get"])
    def grade(self, request: Request, pk=None) -> Response:
        submission = generics.get_object_or_404(self._grade_queryset(), pk=pk)
        return Response(GradeSerializer(submission).data)

    @extend_schema(
        request=CorrectionInputSerializer,
        responses={201: GradeSerializer},
        summary="Record a teacher's correction",
        description="With a course teacher's credentials (HTTP Basic or an admin session), or with an integration "
        "token that has the corrections:write scope, naming the teacher. Recorded exactly as in the admin.",
    )
    @action(
        detail=True,
        methods=["post"],
        authentication_classes=[
            IntegrationTokenAuthentication,
            ThrottledBasicAuthentication,
            authentication.SessionAuthentication,
        ],
        permission_classes=[MayCorrect],
    )
    def corrections(self, request: Request, pk=None) -> Response:
        submission = self.get_object()
        if submission.status not in (Submission.Status.GRADED, Submission.Status.NEEDS_REVIEW):
            # Through the API, a correction is of a grade the LMS was told about; a token could otherwise record
            # one, in a teacher's name, for an answer no one has seen graded. (In the admin a teacher may still
            # grade a failed or waiting answer by hand, looking at it.)
            raise exceptions.ValidationError(
                {"submission": ["Only a graded submission, or one awaiting review, takes a correction."]}
            )
        serializer = CorrectionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        teacher = request.user
        if is_integration(request.user):
            teacher = self._course_teacher(submission.question.course, data.get("teacher"))
        correction_create(submission=submission, teacher=teacher, points=data["points"], comment=data["comment"])
        graded = generics.get_object_or_404(self._grade_queryset(), pk=submission.pk)
        return Response(GradeSerializer(graded).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _course_teacher(course: Course, username: str | None):
        if not username:
            raise exceptions.ValidationError({"teacher": ["Name the course's teacher this correction is for."]})
        teacher = course.teachers.filter(username=username, is_active=True).first()
        if teacher is None:
            raise exceptions.ValidationError({"teacher": ["Not a teacher of this course."]})
        return teacher


@extend_schema_view(list=extend_schema(summary="Model versions that grade or graded"))
class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ModelVersionSerializer

    def get_queryset(self):
        return selectors.model_versions_visible()


@extend_schema_view(
    create=extend_schema(
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
        summary="Register a callback URL; the response shows its signing secret once",
    ),
    destroy=extend_schema(summary="Stop sending to this URL"),
)
class WebhookEndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = WebhookEndpointSerializer

    def get_queryset(self):
        return selectors.webhook_endpoints_for_integration(integration=self.request.user)

    def create(self, request: Request) -> Response:
        serializer = WebhookEndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_create(integration=request.user, **serializer.validated_data)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance) -> None:
        webhook_endpoint_deactivate(endpoint=instance)


class SchemaView(SpectacularAPIView):
    """The schema in YAML or JSON; its errors (401, 403, 429) in the API's JSON error shape like every endpoint's."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response
