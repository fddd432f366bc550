"""What a validated LTI launch does in grader: the course, the question, the student's answer, the teacher.

The launch has been validated by ``grader.lti.tool`` before any of this runs; ``claims`` is its id_token's body.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from grader.lti.models import LtiContext, LtiLaunch, LtiResourceLink, Platform
from grader.models import Course, Question, Submission
from grader.services.courses import question_create
from grader.services.submissions import submission_create

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CONTEXT_CLAIM = CLAIM + "context"
RESOURCE_LINK_CLAIM = CLAIM + "resource_link"
CUSTOM_CLAIM = CLAIM + "custom"
MESSAGE_TYPE_CLAIM = CLAIM + "message_type"
DEPLOYMENT_CLAIM = CLAIM + "deployment_id"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DEEP_LINKING_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
# The custom parameter a deep-linked resource link carries: the id of its question in grader.
QUESTION_PARAMETER = "grader_question"


class LaunchRefused(Exception):
    """A launch grader will not serve; the message is shown to the person in the LMS frame."""


@dataclass(frozen=True)
class AcceptedLaunch:
    launch: LtiLaunch
    question: Question | None


def lti_student_ref(*, platform: Platform, sub: str) -> str:
    """The student as grader's API knows them: stable per platform and user, within student_ref's 200 characters."""
    ref = f"lti:{platform.pk}:{sub}"
    return ref if len(ref) <= 200 else f"lti:{platform.pk}:sha256:{hashlib.sha256(sub.encode()).hexdigest()}"


@transaction.atomic
def lti_launch_accept(*, platform: Platform, claims: dict, is_instructor: bool) -> AcceptedLaunch:
    """Record a validated launch: its context becomes a course (on the first launch), its resource link names a
    question of that course, an instructor becomes a teacher of it.

    All or nothing: a refused launch (LaunchRefused) leaves no course, link, user or launch behind.
    """
    message_type = claims.get(MESSAGE_TYPE_CLAIM)
    if message_type not in ("LtiResourceLinkRequest", "LtiDeepLinkingRequest"):
        # Submission review and data privacy launches are valid LTI, but grader has no page for them yet.
        raise LaunchRefused(f"grader does not support {message_type or 'this kind of'} launches.")
    context_claim = claims.get(CONTEXT_CLAIM) or {}
    if not context_claim.get("id"):
        raise LaunchRefused("The launch names no course (LTI context); grader can only be used inside a course.")
    sub = claims.get("sub") or ""
    if not sub:
        raise LaunchRefused("The launch names no user; anonymous launches are not supported.")
    context = _context_for(platform=platform, claim=context_claim)
    custom_question = _custom_question(claims=claims, course=context.course)
    user = _teacher_for(platform=platform, claims=claims, course=context.course) if is_instructor else None

    if message_type == "LtiDeepLinkingRequest":
        if user is None:
            raise LaunchRefused("Only an instructor can add grader questions to a course.")
        launch = _launch_create(
            kind=LtiLaunch.Kind.DEEP_LINK,
            context=context,
            sub=sub,
            user=user,
            claims={
                "deep_linking_settings": claims.get(DEEP_LINKING_CLAIM) or {},
                "deployment_id": claims.get(DEPLOYMENT_CLAIM),
            },
        )
        return AcceptedLaunch(launch=launch, question=None)

    link_claim = claims.get(RESOURCE_LINK_CLAIM) or {}
    link, _ = LtiResourceLink.objects.get_or_create(
        context=context, resource_link_id=link_claim["id"], defaults={"title": (link_claim.get("title") or "")[:255]}
    )
    if custom_question is not None and link.question_id != custom_question.pk:
        # The platform's placement (set by deep linking) is what the link shows.
        LtiResourceLink.objects.filter(pk=link.pk).update(question=custom_question)
        link.question = custom_question
    question = link.question
    if user is not None:
        launch = _launch_create(
            kind=LtiLaunch.Kind.INSTRUCTOR, context=context, resource_link=link, sub=sub, user=user, claims={}
        )
        return AcceptedLaunch(launch=launch, question=question)
    if question is None:
        raise LaunchRefused("This activity has no question yet: your teacher has to choose one in grader first.")
    if question.archived_at is not None:
        raise LaunchRefused("This question is archived and takes no more answers.")
    launch = _launch_create(
        kind=LtiLaunch.Kind.STUDENT,
        context=context,
        resource_link=link,
        sub=sub,
        user=None,
        claims={"ags": claims.get(AGS_CLAIM) or {}},
    )
    return AcceptedLaunch(launch=launch, question=question)


def _context_for(*, platform: Platform, claim: dict) -> LtiContext:
    existing = LtiContext.objects.select_related("course").filter(platform=platform, context_id=claim["id"]).first()
    if existing is not None:
        return existing
    label = (claim.get("label") or claim.get("title") or "lti-course").strip()
    course = Course.objects.create(code=(slugify(label) or "lti-course")[:64], name=(claim.get("title") or label)[:200])
    try:
        with transaction.atomic():
            return LtiContext.objects.create(platform=platform, context_id=claim["id"], course=course)
    except IntegrityError:
        # A concurrent first launch of the same course won; its course is the one.
        Course.objects.filter(pk=course.pk).delete()
        return LtiContext.objects.select_related("course").get(platform=platform, context_id=claim["id"])


def _custom_question(*, claims: dict, course: Course) -> Question | None:
    raw = str((claims.get(CUSTOM_CLAIM) or {}).get(QUESTION_PARAMETER) or "").strip()
    if not raw:
        return None
    question = Question.objects.filter(pk=int(raw), course=course).first() if raw.isdigit() else None
    if question is None:
        # Another platform's, or another course's, question: refused without saying whether it exists.
        raise LaunchRefused("The question this link points to is not part of this course.")
    return question


def _teacher_for(*, platform: Platform, claims: dict, course: Course) -> AbstractBaseUser:
    """The instructor's grader account (created on first launch, without a password: LTI is their way in)."""
    user_model = get_user_model()
    digest = hashlib.sha256(f"{platform.pk}:{claims['sub']}".encode()).hexdigest()[:24]
    user, created = user_model.objects.get_or_create(
        username=f"lti-{platform.pk}-{digest}",
        defaults={
            "is_staff": True,
            "first_name": (claims.get("given_name") or "")[:150],
            "last_name": (claims.get("family_name") or "")[:150],
            "email": (claims.get("email") or "")[:254],
        },
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        # A course teacher's rights: everything in grader's own app except operating model versions.
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="grader").exclude(codename="operate_models")
        )
    course.teachers.add(user)
    return user


def _launch_create(
    *,
    kind: str,
    context: LtiContext,
    sub: str,
    user: AbstractBaseUser | None,
    claims: dict,
    resource_link: LtiResourceLink | None = None,
) -> LtiLaunch:
    return LtiLaunch.objects.create(
        kind=kind,
        token=secrets.token_urlsafe(32),
        context=context,
        resource_link=resource_link,
        sub=sub,
        user=user,
        claims=claims,
    )


def _fresh_launch(*, token: str, kind: str) -> LtiLaunch | None:
    max_age = timedelta(seconds=settings.GRADER_LTI_LAUNCH_MAX_AGE_SECONDS)
    return (
        LtiLaunch.objects.select_related("context__platform", "resource_link__question", "submission", "user")
        .filter(token=token, kind=kind, created_at__gte=timezone.now() - max_age)
        .first()
    )


def lti_student_launch(*, token: str) -> LtiLaunch | None:
    return _fresh_launch(token=token, kind=LtiLaunch.Kind.STUDENT)


def lti_answer_submit(*, launch: LtiLaunch, answer: str) -> tuple[Submission, bool]:
    """The student's answer, through the same service as the API, exactly once per launch (attempt): the
    submission's external_id is the launch's, so a resubmitted form (double click, retry) returns the first one."""
    question = launch.resource_link.question
    submission, created = submission_create(
        question=question,
        student_ref=lti_student_ref(platform=launch.context.platform, sub=launch.sub),
        answer=answer,
        external_id=f"lti-launch-{launch.pk}",
    )
    LtiLaunch.objects.filter(pk=launch.pk, submission__isnull=True).update(submission=submission)
    return submission, created


def lti_workspace_handoff(*, token: str) -> LtiLaunch | None:
    """An instructor launch's one-time way into the workspace (opened in a window of its own, where grader's
    session cookie is first-party): valid once, within GRADER_LTI_HANDOFF_SECONDS of the launch."""
    max_age = timedelta(seconds=settings.GRADER_LTI_HANDOFF_SECONDS)
    taken = LtiLaunch.objects.filter(
        token=token,
        kind=LtiLaunch.Kind.INSTRUCTOR,
        used_at__isnull=True,
        created_at__gte=timezone.now() - max_age,
    ).update(used_at=timezone.now())
    if not taken:
        return None
    return LtiLaunch.objects.select_related("user", "resource_link").get(token=token)


def lti_instructor_launch(*, token: str) -> LtiLaunch | None:
    return _fresh_launch(token=token, kind=LtiLaunch.Kind.INSTRUCTOR)


@transaction.atomic
def lti_resource_link_bind(*, launch: LtiLaunch, question_id: int) -> Question:
    """An instructor chooses the question a link placed by hand (without deep linking) shows; one of the course's."""
    question = Question.objects.filter(
        pk=question_id, course=launch.context.course_id, archived_at__isnull=True
    ).first()
    if question is None or launch.resource_link is None:
        raise LaunchRefused("That question is not part of this course.")
    LtiResourceLink.objects.filter(pk=launch.resource_link_id).update(question=question)
    return question


def lti_deep_link_launch(*, token: str) -> LtiLaunch | None:
    return _fresh_launch(token=token, kind=LtiLaunch.Kind.DEEP_LINK)


@transaction.atomic
def lti_deep_link_question(
    *, launch: LtiLaunch, question_id: int | None, new_prompt: str = "", new_reference: str = "", max_points=None
) -> Question:
    """The question an instructor picked in the deep-linking page, or the one they wrote there (created in the
    course of the launch). A question of another course is refused as absent."""
    course = launch.context.course
    if question_id is not None:
        question = Question.objects.filter(pk=question_id, course=course, archived_at__isnull=True).first()
        if question is None:
            raise LaunchRefused("That question is not part of this course.")
        return question
    if not new_prompt.strip() or not new_reference.strip():
        raise LaunchRefused("A new question needs a prompt and a reference answer.")
    points = Decimal(max_points or "5")
    if not Decimal("0.5") <= points <= Decimal("1000"):
        raise LaunchRefused("Points must lie between 0.5 and 1000.")
    taken = set(Question.objects.filter(course=course).values_list("key", flat=True))
    base = slugify(new_prompt)[:50] or "question"
    key = next(candidate for candidate in _keys(base) if candidate not in taken)
    return question_create(
        course=course,
        key=key,
        prompt=new_prompt.strip(),
        max_points=points,
        reference_answers=[new_reference.strip()],
    )


def _keys(base: str):
    yield base
    number = 2
    while True:
        yield f"{base}-{number}"
        number += 1
