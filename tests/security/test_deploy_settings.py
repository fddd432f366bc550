"""Production differs from the embedded mode only by environment: with the production env, Django's deployment
checks pass at WARNING level; without a real secret key, grader refuses to start."""

import os
import secrets
import subprocess
import sys

from tests.conftest import PROJECT_DIR

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_HTTPS": "1",
    "DJANGO_ALLOWED_HOSTS": "grader.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://grader.example.org",
    "DATABASE_URL": "postgres://grader@db.example.org:5432/grader",
    "CELERY_BROKER_URL": "redis://redis.example.org:6379/0",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deploy_check_passes_at_warning_level_with_the_production_env():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV, DJANGO_SECRET_KEY=secrets.token_urlsafe(50)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_check_fails_without_https_settings():
    env = {**PRODUCTION_ENV, "DJANGO_HTTPS": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # HSTS


def test_refuses_to_start_on_a_database_server_with_the_embedded_secret_key():
    result = manage("check", **PRODUCTION_ENV)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_embedded_mode_still_starts_with_no_environment(tmp_path):
    result = manage("check", GRADER_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_https_redirect_spares_the_health_endpoints_for_plain_http_probes(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/submissions/").status_code == 301
    # Behind the proxy a request that arrived over TLS is not redirected again.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/api/v1/submissions/", HTTP_X_FORWARDED_PROTO="https").status_code == 401
