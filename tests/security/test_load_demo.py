"""The demo superuser has a published password: load_demo creates it only when asked to, or with DEBUG on."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from grader.models import Course


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
