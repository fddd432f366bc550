"""LTI 1.3 endpoints: parse the request, call the library or one service, render. No protocol logic here."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

import requests
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.lineitem import LineItem

from grader.lti import registration, services
from grader.lti.framing import lti_frame
from grader.lti.keys import tool_jwks
from grader.lti.models import LtiLaunch
from grader.lti.tool import GraderMessageLaunch, GraderOIDCLogin, PlatformRegistration
from grader.models import Question

logger = logging.getLogger(__name__)


def _refused(request: HttpRequest, *, title: str, detail: str, status: int = 400) -> HttpResponse:
    return render(request, "lti/error.html", {"title": title, "detail": detail}, status=status)


def tool_urls(request: HttpRequest) -> dict[str, str]:
    """The values an LMS administrator enters when adding grader (also shown on the admin's configuration page)."""
    return {
        "login_url": request.build_absolute_uri(reverse("lti:login")),
        "launch_url": request.build_absolute_uri(reverse("lti:launch")),
        "jwks_url": request.build_absolute_uri(reverse("lti:jwks")),
        "deep_linking_url": request.build_absolute_uri(reverse("lti:launch")),
    }


# The platform starts the login by a top-level GET or a cross-site form POST: no CSRF token can exist yet; the
# state and nonce the library issues here are what protects the launch.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@lti_frame
def oidc_login(request: HttpRequest) -> HttpResponse:
    try:
        return GraderOIDCLogin(request).redirect(tool_urls(request)["launch_url"])
    except (OIDCException, LtiException) as refused:
        return _refused(request, title="This login request from the LMS was refused", detail=str(refused))


# The id_token is posted cross-site by the platform's form; its signature, state and nonce are the protection.
@csrf_exempt
@require_POST
@lti_frame
def launch(request: HttpRequest) -> HttpResponse:
    message = GraderMessageLaunch(request)
    try:
        claims = message.get_launch_data()  # runs every check (state, nonce, signature, iss/aud/azp, deployment...)
        accepted = services.lti_launch_accept(
            platform=message.platform,
            claims=claims,
            # Teaching assistants grade too: they get the teacher's workspace for the course.
            is_instructor=message.check_teacher_access() or message.check_teaching_assistant_access(),
        )
    except LtiException as refused:
        logger.info("LTI launch refused: %s", refused)
        return _refused(request, title="This launch could not be verified", detail=str(refused))
    except services.LaunchRefused as refused:
        return _refused(request, title="grader cannot open this activity", detail=str(refused), status=403)
    launch = accepted.launch
    if launch.kind == LtiLaunch.Kind.DEEP_LINK:
        return _deep_link_page(request, launch=launch)
    if launch.kind == LtiLaunch.Kind.INSTRUCTOR:
        return _instructor_page(request, launch=launch, question=accepted.question)
    return redirect("lti:attempt", token=launch.token)


def _instructor_page(request: HttpRequest, *, launch: LtiLaunch, question: Question | None, error: str = ""):
    # A link placed by hand (not by deep linking) has no question until the instructor chooses one here.
    choices = (
        Question.objects.filter(course=launch.context.course_id, archived_at__isnull=True).order_by("key")
        if question is None
        else []
    )
    return render(
        request, "lti/instructor.html", {"launch": launch, "question": question, "choices": choices, "error": error}
    )


@require_POST
@lti_frame
def link_question(request: HttpRequest, token: str) -> HttpResponse:
    """The instructor's choice of question for a link placed by hand."""
    launch = services.lti_instructor_launch(token=token)
    if launch is None:
        return _refused(request, title="This page has expired", detail="Open the activity again.", status=404)
    picked = request.POST.get("question", "")
    try:
        question = services.lti_resource_link_bind(launch=launch, question_id=int(picked) if picked.isdigit() else 0)
    except services.LaunchRefused as refused:
        return _instructor_page(request, launch=launch, question=None, error=str(refused))
    return _instructor_page(request, launch=launch, question=question)


@require_http_methods(["GET", "POST"])
@lti_frame
def attempt(request: HttpRequest, token: str) -> HttpResponse:
    """A student's question and answer form; after submitting, its status and the grade once released."""
    launch = services.lti_student_launch(token=token)
    if launch is None:
        return _refused(
            request,
            title="This page has expired",
            detail="Open the activity again from your course.",
            status=404,
        )
    errors: list[str] = []
    if request.method == "POST" and launch.submission_id is None:
        try:
            services.lti_answer_submit(launch=launch, answer=request.POST.get("answer", ""))
        except ValidationError as invalid:
            errors = invalid.messages
        else:
            return redirect("lti:attempt", token=token)
    launch.refresh_from_db()
    return render(
        request,
        "lti/attempt.html",
        {
            "launch": launch,
            "question": launch.resource_link.question,
            "submission": launch.submission,
            "errors": errors,
            "answer": request.POST.get("answer", ""),
        },
    )


@require_GET
def workspace_handoff(request: HttpRequest, token: str) -> HttpResponse:
    """Opened by the instructor page in a window of its own: log the teacher in once, then the workspace."""
    launch = services.lti_workspace_handoff(token=token)
    if launch is None:
        return _refused(
            request, title="This link has expired", detail="Open the activity again from your course.", status=404
        )
    login(request, launch.user, backend="django.contrib.auth.backends.ModelBackend")
    question = launch.resource_link.question if launch.resource_link else None
    if question is not None:
        return redirect(reverse("admin:grader_submission_changelist") + f"?question__id__exact={question.pk}")
    return redirect(reverse("admin:grader_question_changelist") + f"?course__id__exact={launch.context.course_id}")


def _deep_link_page(request: HttpRequest, *, launch: LtiLaunch, error: str = "") -> HttpResponse:
    questions = Question.objects.filter(course=launch.context.course, archived_at__isnull=True).order_by("key")
    return render(request, "lti/deep_link.html", {"launch": launch, "questions": questions, "error": error}, status=200)


@require_POST
@lti_frame
def deep_link_respond(request: HttpRequest, token: str) -> HttpResponse:
    """The instructor's choice, sent back to the platform as an ltiResourceLink with a line item (max points)."""
    launch = services.lti_deep_link_launch(token=token)
    if launch is None:
        return _refused(request, title="This page has expired", detail="Start again from your course.", status=404)
    picked = request.POST.get("question", "")
    try:
        max_points = Decimal(request.POST.get("max_points") or "5")
        question = services.lti_deep_link_question(
            launch=launch,
            question_id=int(picked) if picked.isdigit() else None,
            new_prompt=request.POST.get("prompt", "")[:5000],
            new_reference=request.POST.get("reference", "")[:5000],
            max_points=max_points,
        )
    except (services.LaunchRefused, ValidationError, InvalidOperation, ValueError) as refused:
        return _deep_link_page(request, launch=launch, error=str(refused))
    resource = (
        DeepLinkResource()
        .set_type("ltiResourceLink")
        .set_title(question.prompt[:100])
        .set_url(tool_urls(request)["launch_url"])
        .set_custom_params({services.QUESTION_PARAMETER: str(question.pk)})
        .set_lineitem(
            LineItem()
            .set_score_maximum(float(question.max_points))
            .set_label(question.prompt[:100])
            .set_resource_id(f"grader-question-{question.pk}")
        )
    )
    settings_claim = launch.claims["deep_linking_settings"]
    deep_link = DeepLink(PlatformRegistration(launch.context.platform), launch.claims["deployment_id"], settings_claim)
    return render(
        request,
        "lti/deep_link_return.html",
        {"return_url": settings_claim["deep_link_return_url"], "jwt": deep_link.get_response_jwt([resource])},
    )


@require_GET
@lti_frame
def dynamic_registration(request: HttpRequest, token: str) -> HttpResponse:
    """Opened by the LMS (in its registration dialog) with ``openid_configuration`` and ``registration_token``."""
    try:
        platform = registration.platform_register_dynamically(request=request, token=token)
    except registration.RegistrationRefused as refused:
        return _refused(request, title="Registration refused", detail=str(refused), status=404)
    except (LtiException, requests.RequestException, AssertionError, KeyError, ValueError) as failed:
        logger.warning("LTI dynamic registration failed: %r", failed)
        return _refused(request, title="The LMS's registration could not be completed", detail=str(failed))
    return render(request, "lti/registered.html", {"platform": platform})


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """grader's public keys: platforms verify its token requests and deep-linking responses with them."""
    return JsonResponse(tool_jwks())
