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

.PHONY: install run retrain evaluate test test-fast lint format clean

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(INSTALLED)

# The port of `make run`'s web server.
PORT ?= 8000

# The last thing it prints, once the web server answers, is the admin URL, login and API token in a box.
# Ctrl-C stops web, worker and beat (scripts/run.sh).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo --demo-superuser
	$(PY) manage.py bootstrap_model
	@VENV=$(VENV) PORT=$(PORT) exec scripts/run.sh

# Fine-tune on the corrections so far; the new version is activated only if it beats the active one.
# `make retrain ARGS=--force` trains even when nothing is new.
retrain: install
	$(PY) manage.py retrain $(ARGS)

# Measure agreement with human grades: by default on the small example set with the base model (under a minute);
# `make evaluate ARGS="answers.csv --protocol folds"` for your own (see docs/quality.md).
EVALUATE_ARGS ?= fixtures/evaluate_example.csv --protocol feedback --epochs 0 --holdout test --corrections-from train
evaluate: install
	$(PY) manage.py evaluate $(or $(ARGS),$(EVALUATE_ARGS))

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

# The fast lane: unit, service and API tests, without the ones that start a worker, beat, a live server or a
# browser, or that fine-tune a model (those run in `make test`, which is what CI runs). PostgreSQL and Redis as
# for `make test`.
FAST_MARKERS := not e2e and not reliability and not processes and not finetune
test-fast: install
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$(TEST_SECRET_KEY)} \
	  $(VENV)/bin/pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# Refresh docs/screenshots/ from the browser test.
.PHONY: screenshots
screenshots: install $(CHROMIUM)
	GRADER_SCREENSHOTS=1 DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	  $(VENV)/bin/pytest -q tests/workspace/test_browser.py tests/lti/test_browser.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var .pytest_cache
