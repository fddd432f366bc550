"""grader's data. Models hold data and constraints; every write with an effect lives in ``grader.services``."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Course(models.Model):
    # Unique among the courses one integration uses, not across grader: a code taken by another school's course
    # must neither block a new one nor reveal that it exists.
    code = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    teachers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="courses", blank=True)
    archived_at = models.DateTimeField(
        null=True, blank=True, help_text="An archived course accepts no new questions or submissions."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"


class Question(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="questions")
    key = models.SlugField(max_length=64, help_text="Stable identifier within the course, used by LMS integrations.")
    prompt = models.TextField(max_length=5000)
    max_points = models.DecimalField(
        max_digits=6, decimal_places=2, validators=[MinValueValidator(Decimal("0.5"))], default=Decimal("5")
    )
    zero_credit_similarity = models.FloatField(
        null=True,
        blank=True,
        help_text="Similarity at or below which an answer earns 0 points (default from settings).",
    )
    full_credit_similarity = models.FloatField(
        null=True,
        blank=True,
        help_text="Similarity at or above which an answer earns full points (default from settings).",
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    review_risk = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Accepted probability that an auto grade falls on the wrong side of the pass mark; riskier grades "
        "go to review (default from settings).",
    )
    regrade_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A regrade with the active version is wanted; cleared when one has run (grader/dispatch.py).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "key"]
        constraints = [models.UniqueConstraint(fields=["course", "key"], name="question_key_unique_in_course")]

    def __str__(self) -> str:
        return f"{self.course.code}/{self.key}"


class ReferenceAnswer(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="reference_answers")
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["question", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        ACTIVE = "active"
        RETIRED = "retired"
        REJECTED = "rejected"

    name = models.CharField(max_length=64, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    artifact_path = models.CharField(max_length=500, help_text="Directory of the saved sentence-transformers model.")
    sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    model_card = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    evaluation = models.JSONField(
        default=dict,
        blank=True,
        help_text="Held-out agreement of this version and of the version it would replace, and the gate's decision.",
    )
    dry_run = models.JSONField(
        default=dict, blank=True, help_text="How existing auto grades would change if this version graded them."
    )
    dry_run_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="A dry run is wanted; cleared when one has run (grader/dispatch.py)."
    )

    class Meta:
        ordering = ["-created_at"]
        # The active version grades every course: changing it is an operator's power, not a course teacher's.
        permissions = [("operate_models", "Can retrain, activate, roll back and dry-run model versions")]
        constraints = [
            # At most one version grades at a time; promotion swaps it inside one transaction.
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="one_active_model_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    base_version = models.ForeignKey(ModelVersion, null=True, on_delete=models.PROTECT, related_name="training_runs")
    produced_version = models.OneToOneField(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="produced_by"
    )
    hyperparameters = models.JSONField(default=dict)
    dataset_size = models.PositiveIntegerField(default=0)
    dataset_sha256 = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=32, blank=True, help_text="schedule, command, admin or bootstrap.")
    reason = models.TextField(blank=True, help_text="Why the run was skipped, or the gate's verdict.")
    train_size = models.PositiveIntegerField(default=0)
    held_out_size = models.PositiveIntegerField(default=0)
    progress = models.JSONField(default=dict, blank=True, help_text="step, max_steps, loss, eta_seconds.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # One fine-tune at a time across machines: the second insert of a running row fails.
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"), name="one_running_training_run")
        ]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.status})"


class ReferenceEmbedding(models.Model):
    """A reference answer encoded by one model version, so it is computed once per version, not per answer."""

    reference = models.ForeignKey(ReferenceAnswer, on_delete=models.CASCADE, related_name="embeddings")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="reference_embeddings")
    text_sha256 = models.CharField(
        max_length=64, help_text="Hash of the text encoded; an edited reference is re-encoded."
    )
    vector = models.BinaryField(help_text="float32 little-endian, L2-normalized.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference", "model_version"], name="one_embedding_per_reference_and_version"
            )
        ]

    def __str__(self) -> str:
        return f"embedding of reference {self.reference_id} by {self.model_version_id}"


class Integration(models.Model):
    """An LMS (or other client) calling the REST API with its own token, limited to its courses."""

    name = models.CharField(max_length=100, unique=True)
    token_prefix = models.CharField(max_length=12, help_text="First characters of the token, to recognise it.")
    token_sha256 = models.CharField(max_length=64, unique=True)
    courses = models.ManyToManyField(Course, related_name="integrations", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list, blank=True, help_text="Extra rights, e.g. corrections:write.")

    def __str__(self) -> str:
        return self.name

    # DRF's IsAuthenticated asks the request's user this.
    @property
    def is_authenticated(self) -> bool:
        return self.revoked_at is None


class Submission(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        GRADING = "grading"
        GRADED = "graded"
        NEEDS_REVIEW = "needs_review"
        FAILED = "failed"

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="submissions")
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )
    student_ref = models.CharField(max_length=200, help_text="The LMS's identifier of the student.")
    external_id = models.CharField(
        max_length=200, null=True, blank=True, help_text="The LMS's identifier of this attempt."
    )
    answer = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)

    # The auto grade, written once by the grading service.
    similarity = models.FloatField(null=True, blank=True)
    points = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    best_reference = models.ForeignKey(
        ReferenceAnswer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    graded_at = models.DateTimeField(null=True, blank=True)
    confidence = models.FloatField(
        null=True, blank=True, help_text="Probability that a teacher would agree on pass or fail."
    )
    review_reasons = models.CharField(max_length=200, blank=True, help_text="Why the grade awaits a teacher.")
    # The grading claim, set together by one UPDATE (grader.services.submissions). The claim id alone decides
    # whether a grade may be written; the rest tells a later delivery whether the claim's holder is gone.
    grading_started_at = models.DateTimeField(null=True, blank=True, help_text="By the database's clock.")
    grading_claim = models.CharField(max_length=32, blank=True, help_text="Unique per claim; the grade needs it.")
    grading_worker = models.CharField(
        max_length=32, blank=True, help_text="The worker (its heartbeat's incarnation) whose process holds the claim."
    )
    grading_pid = models.PositiveIntegerField(null=True, blank=True, help_text="That worker's pool process.")
    grading_task_id = models.CharField(max_length=64, blank=True, help_text="The Celery task holding the claim.")
    grading_task_retries = models.PositiveSmallIntegerField(
        default=0, help_text="Which try of that task: a later try of the same task may take the claim back."
    )
    grading_attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    # The teacher's latest correction, copied here so lists can filter and sort on it; history in Correction.
    corrected_points = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # An LMS retrying the same attempt must not create a second submission.
            models.UniqueConstraint(
                fields=["question", "external_id"],
                condition=Q(external_id__isnull=False),
                name="submission_external_id_unique_per_question",
            )
        ]
        indexes = [
            # What a grading task claims, oldest first: an index of only the waiting and in-flight rows, in id
            # order, so a claim reads its 64 rows and stops, instead of sorting every queued row of a backlog.
            models.Index(
                fields=["id"],
                condition=Q(status__in=["queued", "grading"]),
                name="submission_claimable",
            )
        ]

    def __str__(self) -> str:
        return f"submission {self.pk} ({self.status})"

    @property
    def final_points(self) -> Decimal | None:
        """The grade that counts: the teacher's latest correction, else the auto grade once it is released.

        None while the auto grade awaits a teacher (``needs_review``): the API, webhooks and the CSV export show
        this, so an unreviewed grade never reaches a gradebook as final. A correction or confirmation settles it.
        """
        if self.corrected_points is not None:
            return self.corrected_points
        if self.status == self.Status.NEEDS_REVIEW:
            return None
        return self.points

    @property
    def review_reason_list(self) -> list[str]:
        # Stored comma-separated (one short column for the admin's lists); clients get a list.
        return [reason for reason in self.review_reasons.split(",") if reason]


class Correction(models.Model):
    """A teacher's grade for a submission. The auto grade stays on the submission beside it."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="corrections")
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="corrections")
    points = models.DecimalField(max_digits=6, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    comment = models.TextField(blank=True, max_length=5000)
    auto_points = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True, help_text="The auto grade when the teacher corrected it."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"correction of submission {self.submission_id}: {self.points}"


class IntegrationScope(models.TextChoices):
    """Rights an integration has beyond reading and submitting in its courses."""

    CORRECTIONS_WRITE = "corrections:write", "Record teacher corrections on behalf of a course's teacher"


class WebhookEndpoint(models.Model):
    """A callback URL an integration registered; grader POSTs signed events about its courses' submissions."""

    class Event(models.TextChoices):
        SUBMISSION_GRADED = "submission.graded"
        GRADE_CHANGED = "submission.grade_changed"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    # Kept in clear: the HMAC needs it. Shown to the integration once, when the endpoint is registered.
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list, help_text="Event types to send; empty means all.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.integration} → {self.url}"


class WebhookDelivery(models.Model):
    """One event to one endpoint, with its attempts. A replay is a new delivery of the same event id."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(db_index=True, help_text="Stable across retries and replays; receivers dedupe on it.")
    event_type = models.CharField(max_length=64)
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_deliveries"
    )
    body = models.TextField(help_text="The exact bytes signed and sent (UTF-8 JSON).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    attempt_log = models.JSONField(default=list, blank=True)
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint.url} ({self.status})"


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an ``Idempotency-Key``: a retry gets the same submissions back."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body of the first request.")
    submission_ids = models.JSONField(default=list)
    # Indexed for the purge of expired keys (services.idempotency).
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "key"], name="idempotency_key_unique_per_integration")
        ]

    def __str__(self) -> str:
        return f"{self.integration}: {self.key}"


class WorkerHeartbeat(models.Model):
    """The last sign of life of one Celery worker; readiness needs a recent one. Written by grader.heartbeat."""

    hostname = models.CharField(max_length=255, unique=True)
    incarnation = models.CharField(
        max_length=32, blank=True, help_text="The worker process behind the hostname now; claims name it."
    )
    queues = models.CharField(max_length=255, blank=True)
    last_seen_at = models.DateTimeField(db_index=True, help_text="By the database's clock.")

    def __str__(self) -> str:
        return f"{self.hostname} ({self.last_seen_at:%Y-%m-%d %H:%M:%S})"


class AnswerEmbedding(models.Model):
    """An answer to a question as one model version sees it: the class's consensus and the neighbours of corrections.

    Keyed by the answer's text, so identical answers are stored once and a correction finds its answer's vector.
    """

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answer_embeddings")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="answer_embeddings")
    text_sha256 = models.CharField(max_length=64)
    vector = models.BinaryField(help_text="float32 little-endian, L2-normalized.")
    cold_fraction = models.FloatField(help_text="The grade before any correction, as a fraction of max_points.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["question", "model_version", "text_sha256"], name="one_answer_embedding_per_text_and_version"
            )
        ]

    def __str__(self) -> str:
        return f"answer embedding {self.text_sha256[:8]} of question {self.question_id}"
