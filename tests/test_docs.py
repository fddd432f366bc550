"""The product docs stay true to the code: the configuration page is generated from the settings module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PROJECT_DIR = Path(__file__).resolve().parent.parent


def load_configuration_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "configuration_docs", PROJECT_DIR / "scripts" / "configuration_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_configuration_page_is_generated_from_the_current_settings() -> None:
    docs = load_configuration_docs()
    expected = docs.render((PROJECT_DIR / "grader" / "settings.py").read_text(encoding="utf-8"))
    actual = (PROJECT_DIR / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/configuration.md is out of date: run .venv/bin/python scripts/configuration_docs.py"
    )


def test_configuration_page_lists_every_variable_the_settings_read() -> None:
    page = (PROJECT_DIR / "docs" / "configuration.md").read_text(encoding="utf-8")
    settings_source = (PROJECT_DIR / "grader" / "settings.py").read_text(encoding="utf-8")
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "GRADER_RETRAIN_CRONTAB", "LOG_LEVEL"):
        assert f'"{name}"' in settings_source
        assert f"| `{name}` |" in page


def test_a_settings_comment_describes_its_setting_and_a_group() -> None:
    docs = load_configuration_docs()
    source = """
import environ
env = environ.Env()

# --- Things ---------------------------------------------------------------
# How many widgets a request may carry.
WIDGETS = env.int("GRADER_WIDGETS", default=3)
# Retries, and the pause between them.
RETRIES = env.int("GRADER_RETRIES", default=2)
PAUSE = env.float("GRADER_PAUSE", default=0.5)
if PAUSE < 0:
    raise ValueError("no")
UNDOCUMENTED = env.bool("GRADER_UNDOCUMENTED", default=False)
NAMES = env.list("GRADER_NAMES", default=["a", "b"])  # who may call
"""
    page = docs.render(source)
    assert "## Things" in page
    assert "| `GRADER_WIDGETS` | integer | `3` | How many widgets a request may carry. |" in page
    assert "| `GRADER_RETRIES` | integer | `2` | Retries, and the pause between them. |" in page
    assert "| `GRADER_PAUSE` | number | `0.5` | As above. |" in page
    # Code that is not a setting ends a comment's reach: no description rather than a wrong one.
    assert "| `GRADER_UNDOCUMENTED` | boolean | `false` |  |" in page
    assert "| `GRADER_NAMES` | comma-separated list | `a`, `b` | who may call |" in page


def test_readme_stays_short() -> None:
    # The README is the front door: what grader is, the two commands, the loop and the map; the rest is in docs/.
    assert (PROJECT_DIR / "README.md").stat().st_size <= 12 * 1024


def test_every_setting_is_described() -> None:
    docs = load_configuration_docs()
    settings = docs.read_settings((PROJECT_DIR / "grader" / "settings.py").read_text(encoding="utf-8"))
    undescribed = [setting.name for setting in settings if not setting.description]
    assert not undescribed, f"write a comment above these in grader/settings.py: {undescribed}"
