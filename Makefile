# Two commands on a fresh machine: `make run` (embedded: SQLite + filesystem broker) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

# PostgreSQL and Redis for the tests (CI starts them in .ci/run).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/grader
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
# The settings refuse the embedded secret key on a database server; tests get a throwaway one.
TEST_SECRET_KEY ?= test-only-secret-key-not-for-production-0123456789abcdef

.PHONY: install run web worker beat test lint format bench clean

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(INSTALLED)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo --demo-superuser
	$(PY) manage.py bootstrap_model
	@echo "admin: http://127.0.0.1:8000/admin/   API: http://127.0.0.1:8000/api/v1/"
	@trap 'kill 0' EXIT INT TERM; \
	  $(VENV)/bin/celery -A grader worker -Q grading,training,webhooks --concurrency 1 --loglevel INFO & \
	  $(VENV)/bin/celery -A grader beat --loglevel INFO & \
	  $(VENV)/bin/gunicorn grader.wsgi --bind 127.0.0.1:8000 --workers 2 --access-logfile - & \
	  wait

# The browser tests drive Debian's Chromium (never a browser fetched by `playwright install`). Installed once;
# afterwards the file exists and make skips this. Without root or apt-get they are skipped (failed under CI).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing and cannot be installed here: the browser tests will be skipped"; fi

test: install $(CHROMIUM)
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$(TEST_SECRET_KEY)} \
	  $(VENV)/bin/pytest $(PYTEST_ARGS)

# Refresh docs/screenshots/ from the browser test.
.PHONY: screenshots
screenshots: install $(CHROMIUM)
	GRADER_SCREENSHOTS=1 DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	  $(VENV)/bin/pytest -q tests/workspace/test_browser.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var .pytest_cache
