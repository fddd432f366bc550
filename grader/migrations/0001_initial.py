"""The schema: courses, questions and references; submissions and corrections; model versions and training
runs; the API's integrations, webhooks and idempotency records; worker heartbeats."""

from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("hostname", models.CharField(max_length=255, unique=True)),
                (
                    "incarnation",
                    models.CharField(
                        blank=True,
                        help_text="The worker process behind the hostname now; claims name it.",
                        max_length=32,
                    ),
                ),
                ("queues", models.CharField(blank=True, max_length=255)),
                ("last_seen_at", models.DateTimeField(db_index=True, help_text="By the database's clock.")),
            ],
        ),
        migrations.CreateModel(
            name="Course",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.SlugField(max_length=64)),
                ("name", models.CharField(max_length=200)),
                (
                    "archived_at",
                    models.DateTimeField(
                        blank=True, help_text="An archived course accepts no new questions or submissions.", null=True
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("teachers", models.ManyToManyField(blank=True, related_name="courses", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["code"],
            },
        ),
        migrations.CreateModel(
            name="Integration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                (
                    "token_prefix",
                    models.CharField(help_text="First characters of the token, to recognise it.", max_length=12),
                ),
                ("token_sha256", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "scopes",
                    models.JSONField(blank=True, default=list, help_text="Extra rights, e.g. corrections:write."),
                ),
                ("courses", models.ManyToManyField(blank=True, related_name="integrations", to="grader.course")),
            ],
        ),
        migrations.CreateModel(
            name="ModelVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=64, unique=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("candidate", "Candidate"),
                            ("active", "Active"),
                            ("retired", "Retired"),
                            ("rejected", "Rejected"),
                        ],
                        default="candidate",
                        max_length=16,
                    ),
                ),
                (
                    "artifact_path",
                    models.CharField(help_text="Directory of the saved sentence-transformers model.", max_length=500),
                ),
                ("sha256", models.CharField(max_length=64)),
                ("metrics", models.JSONField(blank=True, default=dict)),
                ("model_card", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("activated_at", models.DateTimeField(blank=True, null=True)),
                (
                    "evaluation",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="Held-out agreement of this version and of the version it would replace, and the gate's decision.",
                    ),
                ),
                (
                    "dry_run",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="How existing auto grades would change if this version graded them.",
                    ),
                ),
                (
                    "parent",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="children",
                        to="grader.modelversion",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
                "permissions": [("operate_models", "Can retrain, activate, roll back and dry-run model versions")],
            },
        ),
        migrations.CreateModel(
            name="Question",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "key",
                    models.SlugField(
                        help_text="Stable identifier within the course, used by LMS integrations.", max_length=64
                    ),
                ),
                ("prompt", models.TextField(max_length=5000)),
                (
                    "max_points",
                    models.DecimalField(
                        decimal_places=2,
                        default=Decimal("5"),
                        max_digits=6,
                        validators=[django.core.validators.MinValueValidator(Decimal("0.5"))],
                    ),
                ),
                (
                    "zero_credit_similarity",
                    models.FloatField(
                        blank=True,
                        help_text="Similarity at or below which an answer earns 0 points (default from settings).",
                        null=True,
                    ),
                ),
                (
                    "full_credit_similarity",
                    models.FloatField(
                        blank=True,
                        help_text="Similarity at or above which an answer earns full points (default from settings).",
                        null=True,
                    ),
                ),
                ("archived_at", models.DateTimeField(blank=True, null=True)),
                (
                    "review_risk",
                    models.FloatField(
                        blank=True,
                        help_text="Accepted probability that an auto grade falls on the wrong side of the pass mark; riskier grades go to review (default from settings).",
                        null=True,
                        validators=[
                            django.core.validators.MinValueValidator(0.0),
                            django.core.validators.MaxValueValidator(1.0),
                        ],
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "course",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="questions", to="grader.course"
                    ),
                ),
            ],
            options={
                "ordering": ["course", "key"],
            },
        ),
        migrations.CreateModel(
            name="AnswerEmbedding",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text_sha256", models.CharField(max_length=64)),
                ("vector", models.BinaryField(help_text="float32 little-endian, L2-normalized.")),
                (
                    "cold_fraction",
                    models.FloatField(help_text="The grade before any correction, as a fraction of max_points."),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "model_version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="answer_embeddings",
                        to="grader.modelversion",
                    ),
                ),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="answer_embeddings",
                        to="grader.question",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ReferenceAnswer",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.TextField(max_length=5000)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reference_answers",
                        to="grader.question",
                    ),
                ),
            ],
            options={
                "ordering": ["question", "id"],
            },
        ),
        migrations.CreateModel(
            name="ReferenceEmbedding",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "text_sha256",
                    models.CharField(
                        help_text="Hash of the text encoded; an edited reference is re-encoded.", max_length=64
                    ),
                ),
                ("vector", models.BinaryField(help_text="float32 little-endian, L2-normalized.")),
                (
                    "model_version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reference_embeddings",
                        to="grader.modelversion",
                    ),
                ),
                (
                    "reference",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="embeddings",
                        to="grader.referenceanswer",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Submission",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("student_ref", models.CharField(help_text="The LMS's identifier of the student.", max_length=200)),
                (
                    "external_id",
                    models.CharField(
                        blank=True, help_text="The LMS's identifier of this attempt.", max_length=200, null=True
                    ),
                ),
                ("answer", models.TextField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("grading", "Grading"),
                            ("graded", "Graded"),
                            ("needs_review", "Needs Review"),
                            ("failed", "Failed"),
                        ],
                        db_index=True,
                        default="queued",
                        max_length=16,
                    ),
                ),
                ("similarity", models.FloatField(blank=True, null=True)),
                ("points", models.DecimalField(blank=True, decimal_places=2, max_digits=6, null=True)),
                ("graded_at", models.DateTimeField(blank=True, null=True)),
                (
                    "confidence",
                    models.FloatField(
                        blank=True, help_text="Probability that a teacher would agree on pass or fail.", null=True
                    ),
                ),
                (
                    "review_reasons",
                    models.CharField(blank=True, help_text="Why the grade awaits a teacher.", max_length=200),
                ),
                (
                    "grading_started_at",
                    models.DateTimeField(blank=True, help_text="By the database's clock.", null=True),
                ),
                (
                    "grading_claim",
                    models.CharField(blank=True, help_text="Unique per claim; the grade needs it.", max_length=32),
                ),
                (
                    "grading_worker",
                    models.CharField(
                        blank=True,
                        help_text="The worker (its heartbeat's incarnation) whose process holds the claim.",
                        max_length=32,
                    ),
                ),
                (
                    "grading_pid",
                    models.PositiveIntegerField(blank=True, help_text="That worker's pool process.", null=True),
                ),
                (
                    "grading_task_id",
                    models.CharField(blank=True, help_text="The Celery task holding the claim.", max_length=64),
                ),
                (
                    "grading_task_retries",
                    models.PositiveSmallIntegerField(
                        default=0,
                        help_text="Which try of that task: a later try of the same task may take the claim back.",
                    ),
                ),
                ("grading_attempts", models.PositiveSmallIntegerField(default=0)),
                ("error", models.TextField(blank=True)),
                ("corrected_points", models.DecimalField(blank=True, decimal_places=2, max_digits=6, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True, db_index=True)),
                (
                    "best_reference",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="grader.referenceanswer",
                    ),
                ),
                (
                    "integration",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="submissions",
                        to="grader.integration",
                    ),
                ),
                (
                    "model_version",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="submissions",
                        to="grader.modelversion",
                    ),
                ),
                (
                    "question",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="submissions", to="grader.question"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="Correction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "points",
                    models.DecimalField(
                        decimal_places=2,
                        max_digits=6,
                        validators=[django.core.validators.MinValueValidator(Decimal("0"))],
                    ),
                ),
                ("comment", models.TextField(blank=True, max_length=5000)),
                (
                    "auto_points",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="The auto grade when the teacher corrected it.",
                        max_digits=6,
                        null=True,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "teacher",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="corrections",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "submission",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="corrections", to="grader.submission"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="TrainingRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("running", "Running"),
                            ("succeeded", "Succeeded"),
                            ("failed", "Failed"),
                            ("skipped", "Skipped"),
                        ],
                        default="running",
                        max_length=16,
                    ),
                ),
                ("hyperparameters", models.JSONField(default=dict)),
                ("dataset_size", models.PositiveIntegerField(default=0)),
                ("dataset_sha256", models.CharField(blank=True, max_length=64)),
                ("metrics", models.JSONField(blank=True, default=dict)),
                ("log", models.TextField(blank=True)),
                ("error", models.TextField(blank=True)),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "trigger",
                    models.CharField(blank=True, help_text="schedule, command, admin or bootstrap.", max_length=32),
                ),
                ("reason", models.TextField(blank=True, help_text="Why the run was skipped, or the gate's verdict.")),
                ("train_size", models.PositiveIntegerField(default=0)),
                ("held_out_size", models.PositiveIntegerField(default=0)),
                (
                    "progress",
                    models.JSONField(blank=True, default=dict, help_text="step, max_steps, loss, eta_seconds."),
                ),
                ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                (
                    "base_version",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="training_runs",
                        to="grader.modelversion",
                    ),
                ),
                (
                    "produced_version",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="produced_by",
                        to="grader.modelversion",
                    ),
                ),
            ],
            options={
                "ordering": ["-started_at"],
            },
        ),
        migrations.CreateModel(
            name="WebhookEndpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("url", models.URLField(max_length=500)),
                ("secret", models.CharField(max_length=100)),
                ("events", models.JSONField(default=list, help_text="Event types to send; empty means all.")),
                ("is_active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "integration",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhook_endpoints",
                        to="grader.integration",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.CreateModel(
            name="WebhookDelivery",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "event_id",
                    models.UUIDField(
                        db_index=True, help_text="Stable across retries and replays; receivers dedupe on it."
                    ),
                ),
                ("event_type", models.CharField(max_length=64)),
                ("body", models.TextField(help_text="The exact bytes signed and sent (UTF-8 JSON).")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("sending", "Sending"),
                            ("succeeded", "Succeeded"),
                            ("failed", "Failed"),
                        ],
                        db_index=True,
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_status_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("attempt_log", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("delivered_at", models.DateTimeField(blank=True, null=True)),
                (
                    "replay_of",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="replays",
                        to="grader.webhookdelivery",
                    ),
                ),
                (
                    "submission",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="webhook_deliveries",
                        to="grader.submission",
                    ),
                ),
                (
                    "endpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="grader.webhookendpoint",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "webhook deliveries",
                "ordering": ["-created_at"],
            },
        ),
        migrations.CreateModel(
            name="IdempotencyRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=200)),
                (
                    "fingerprint",
                    models.CharField(help_text="SHA-256 of method, path and body of the first request.", max_length=64),
                ),
                ("submission_ids", models.JSONField(default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "integration",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="idempotency_records",
                        to="grader.integration",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("integration", "key"), name="idempotency_key_unique_per_integration"
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "active")), fields=("status",), name="one_active_model_version"
            ),
        ),
        migrations.AddConstraint(
            model_name="question",
            constraint=models.UniqueConstraint(fields=("course", "key"), name="question_key_unique_in_course"),
        ),
        migrations.AddConstraint(
            model_name="answerembedding",
            constraint=models.UniqueConstraint(
                fields=("question", "model_version", "text_sha256"), name="one_answer_embedding_per_text_and_version"
            ),
        ),
        migrations.AddConstraint(
            model_name="referenceembedding",
            constraint=models.UniqueConstraint(
                fields=("reference", "model_version"), name="one_embedding_per_reference_and_version"
            ),
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(
                condition=models.Q(("status__in", ["queued", "grading"])), fields=["id"], name="submission_claimable"
            ),
        ),
        migrations.AddConstraint(
            model_name="submission",
            constraint=models.UniqueConstraint(
                condition=models.Q(("external_id__isnull", False)),
                fields=("question", "external_id"),
                name="submission_external_id_unique_per_question",
            ),
        ),
        migrations.AddConstraint(
            model_name="trainingrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "running")), fields=("status",), name="one_running_training_run"
            ),
        ),
    ]
