"""grader as an LTI 1.3 tool: the platforms it trusts, its signing keys, and what launches link to what.

Every write with an effect lives in ``grader.lti.services`` (launches, keys) and ``grader.lti.passback`` (scores).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from grader.models import Course, Question, Submission


class ToolKey(models.Model):
    """grader's RSA key pair for signing (token requests, deep-linking responses). The newest unretired one signs;
    retired ones stay in the JWKS for a while so that platforms can still verify what they signed."""

    kid = models.CharField(max_length=100, unique=True)
    private_key_pem = models.TextField()
    public_jwk = models.JSONField(help_text="The public half as published at the JWKS URL.")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "signing key"

    def __str__(self) -> str:
        return f"{self.kid} ({'retired' if self.retired_at else 'signing'})"


class Platform(models.Model):
    """An LMS registration, entered by an operator from what the LMS shows after grader was added to it."""

    name = models.CharField(max_length=100, help_text="For people: 'University Moodle'.")
    issuer = models.URLField(max_length=255, help_text="The platform's issuer (iss), e.g. https://moodle.example.edu")
    client_id = models.CharField(max_length=255, help_text="The client ID the platform gave grader.")
    deployment_ids = models.JSONField(
        default=list, blank=True, help_text='Deployment IDs grader accepts from this platform, e.g. ["1"].'
    )
    auth_login_url = models.URLField(max_length=500, help_text="Authentication request (OIDC auth) URL.")
    auth_token_url = models.URLField(max_length=500, help_text="Access token URL (OAuth2), for grade passback.")
    auth_audience = models.CharField(
        max_length=500, blank=True, help_text="Audience of token requests, if it is not the token URL."
    )
    key_set_url = models.URLField(max_length=500, help_text="The platform's public keyset (JWKS) URL.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_unique_client")]

    def __str__(self) -> str:
        return self.name


class RegistrationLink(models.Model):
    """A one-time link an operator gives an LMS administrator for LTI dynamic registration: whoever opens it may
    register a platform, so it is made on purpose, used once and expires."""

    token = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    platform = models.ForeignKey(Platform, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"registration link of {self.created_at:%Y-%m-%d %H:%M}"


class LaunchStateEntry(models.Model):
    """pylti1p3's launch store (state, nonce issued, launch data): in the database so every web process sees it."""

    key = models.CharField(max_length=255, unique=True)
    value = models.JSONField(null=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key


class UsedNonce(models.Model):
    """A nonce a launch has used: the same id_token posted again is refused (the unique constraint decides)."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=255)
    used_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "nonce"], name="lti_nonce_used_once")]

    def __str__(self) -> str:
        return f"nonce used at {self.used_at:%Y-%m-%d %H:%M:%S}"


class LtiContext(models.Model):
    """A course of a platform (the LTI context), and grader's course for it, created on the first launch."""

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="contexts")
    context_id = models.CharField(max_length=255)
    course = models.OneToOneField(Course, on_delete=models.PROTECT, related_name="lti_context")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LMS course"
        constraints = [
            models.UniqueConstraint(fields=["platform", "context_id"], name="lti_context_unique_per_platform")
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.context_id}"


class LtiResourceLink(models.Model):
    """A placement of grader in a platform's course; it shows one question."""

    context = models.ForeignKey(LtiContext, on_delete=models.PROTECT, related_name="resource_links")
    resource_link_id = models.CharField(max_length=255)
    question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["context", "resource_link_id"], name="lti_resource_link_unique")]

    def __str__(self) -> str:
        return f"{self.context}: {self.resource_link_id}"


class LtiLaunch(models.Model):
    """One validated launch: what the page it opened may do next, named by a random token.

    The LMS frame may not keep grader's cookies, so the token is the only credential of the answer form (a
    student's launch, which submits at most one answer: its submission's external_id derives from the launch), of
    the deep-linking picker, and of the one-time hand-off of an instructor to the workspace in a window of its own.
    """

    class Kind(models.TextChoices):
        STUDENT = "student"
        INSTRUCTOR = "instructor"
        DEEP_LINK = "deep_link"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    token = models.CharField(max_length=64, unique=True)
    context = models.ForeignKey(LtiContext, on_delete=models.CASCADE, related_name="launches")
    resource_link = models.ForeignKey(
        LtiResourceLink, null=True, blank=True, on_delete=models.CASCADE, related_name="launches"
    )
    sub = models.CharField(max_length=255, help_text="The platform's user id.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    claims = models.JSONField(
        default=dict, blank=True, help_text="What later steps need: the AGS endpoint, deep-linking settings."
    )
    submission = models.OneToOneField(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="lti_launch"
    )
    used_at = models.DateTimeField(null=True, blank=True, help_text="When a one-time step (hand-off) was taken.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} launch of {self.sub} in {self.context}"


class ScorePassback(models.Model):
    """One score to post to a platform's line item (an outbox row, written in the grade change's transaction)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SUPERSEDED = "superseded"  # a newer score of the same submission was recorded before this one went out

    launch = models.ForeignKey(LtiLaunch, on_delete=models.CASCADE, related_name="score_passbacks")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="score_passbacks")
    score = models.JSONField(help_text="The AGS score as posted (userId, scoreGiven, gradingProgress, timestamp...).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"score of submission {self.submission_id}: {self.score.get('gradingProgress')} ({self.status})"
