"""The demo superuser has a published password: load_demo creates it only when asked to, or with DEBUG on.

Its demo token is kept across runs, so a second `make run` does not break what uses the first one."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from grader.models import Course, Integration
from grader.services.integrations import integration_authenticate, integration_rotate_token
from grader.services.workers import worker_heartbeat_record


def test_load_demo_refuses_to_create_the_demo_superuser_with_production_settings(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--demo-superuser"):
        call_command("load_demo")
    assert not get_user_model().objects.filter(username="teacher").exists()
    assert not Course.objects.exists()


@pytest.mark.parametrize(("debug", "flag"), [(False, True), (True, False)])
def test_load_demo_creates_it_when_asked_or_with_debug(db, settings, capsys, debug, flag):
    settings.DEBUG = debug
    call_command("load_demo", *(["--demo-superuser"] if flag else []))
    assert get_user_model().objects.get(username="teacher").is_superuser
    assert "teacher login: teacher / grader-demo" in capsys.readouterr().out


def test_load_demo_shows_the_same_token_on_every_run_and_it_keeps_working(db, settings, tmp_path, capsys):
    settings.GRADER_DEMO_TOKEN_FILE = tmp_path / "demo-lms.token"
    call_command("load_demo", "--demo-superuser")
    first = _printed_token(capsys.readouterr().out)
    call_command("load_demo", "--demo-superuser")
    assert _printed_token(capsys.readouterr().out) == first
    assert integration_authenticate(token=first) is not None
    assert settings.GRADER_DEMO_TOKEN_FILE.stat().st_mode & 0o077 == 0


def test_load_demo_issues_a_new_token_when_the_kept_one_no_longer_works(db, settings, tmp_path, capsys):
    settings.GRADER_DEMO_TOKEN_FILE = tmp_path / "demo-lms.token"
    call_command("load_demo", "--demo-superuser")
    first = _printed_token(capsys.readouterr().out)
    integration_rotate_token(integration=Integration.objects.get(name="demo-lms"))
    call_command("load_demo", "--demo-superuser")
    second = _printed_token(capsys.readouterr().out)
    assert second != first
    assert integration_authenticate(token=second) is not None
    assert settings.GRADER_DEMO_TOKEN_FILE.read_text().strip() == second


def test_demo_banner_prints_the_login_and_the_live_token_in_a_box(db, settings, tmp_path, capsys):
    settings.GRADER_DEMO_TOKEN_FILE = tmp_path / "demo-lms.token"
    call_command("load_demo", "--demo-superuser")
    token = _printed_token(capsys.readouterr().out)
    call_command("demo_banner", "--url", "http://127.0.0.1:8010/")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("+-") and lines[-1] == lines[0]
    assert all(line.startswith("| ") and line.endswith(" |") and len(line) == len(lines[0]) for line in lines[1:-1])
    text = "\n".join(lines)
    assert "http://127.0.0.1:8010/admin/" in text
    assert "teacher / grader-demo" in text
    assert token in text


def test_demo_banner_says_how_to_get_a_token_when_the_kept_one_was_revoked(db, settings, tmp_path, capsys):
    settings.GRADER_DEMO_TOKEN_FILE = tmp_path / "demo-lms.token"
    call_command("load_demo", "--demo-superuser")
    token = _printed_token(capsys.readouterr().out)
    Integration.objects.filter(name="demo-lms").update(revoked_at=timezone.now())
    call_command("demo_banner")
    out = capsys.readouterr().out
    assert token not in out
    assert "load_demo --demo-superuser" in out


def _printed_token(out: str) -> str:
    return re.search(r"API token \(demo-lms\): (\S+)", out).group(1)


def test_demo_banner_waits_for_this_runs_worker_and_says_so_when_none_reported(db, settings, tmp_path, capsys):
    settings.GRADER_DEMO_TOKEN_FILE = tmp_path / "demo-lms.token"
    call_command("load_demo", "--demo-superuser")
    capsys.readouterr()
    worker_heartbeat_record(hostname="celery@earlier-run", incarnation="a", queues=["grading"])
    run_started = time.time() + 1  # the heartbeat above belongs to an earlier run
    call_command("demo_banner", "--wait-for-worker-since", str(run_started), "--wait-timeout", "0")
    assert "The worker has not reported" in capsys.readouterr().out

    call_command("demo_banner", "--wait-for-worker-since", str(time.time() - 60), "--wait-timeout", "0")
    out = capsys.readouterr().out
    assert "teacher / grader-demo" in out
    assert "has not reported" not in out
