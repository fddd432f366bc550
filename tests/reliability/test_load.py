"""Load: N submissions from C concurrent clients against gunicorn and Celery workers on loopback. Every one is
accepted (no 5xx), stored once and graded exactly once, checked in the database.

Bounded: each client sends exactly its share of requests (no retries), every request has a timeout, and a
deadline stops the whole test. N defaults to 200 so the suite stays short on two shared cores; the full
run (5,000 from 50 clients) is `python bench/load.py`, which sets GRADER_LOAD_SUBMISSIONS and records timings.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from grader.models import Submission, WebhookDelivery
from tests.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

SUBMISSIONS = int(os.environ.get("GRADER_LOAD_SUBMISSIONS", "200"))
CLIENTS = int(os.environ.get("GRADER_LOAD_CLIENTS", "50"))
DEADLINE_SECONDS = float(os.environ.get("GRADER_LOAD_DEADLINE_SECONDS", "900"))
REPORT_PATH = os.environ.get("GRADER_LOAD_REPORT")  # bench/load.py reads the timings from here
ANSWERS = [
    "It changes the parameters step by step so that the loss gets smaller.",
    "I do not know.",
    "Overfitting is when the model memorises the training data and fails on new data.",
    "A validation set is used to tune hyperparameters without touching the test set.",
]


def test_every_submission_from_concurrent_clients_is_accepted_and_graded_exactly_once(
    launcher, shared_broker_url, base_model_version, demo_course, integration_and_token, graded_outbox
):
    _, token = integration_and_token
    question_ids = list(demo_course.questions.values_list("pk", flat=True))
    one_thread = {"GRADER_TORCH_THREADS": "1"}  # two pool processes on two cores: no oversubscription
    # As docker-compose deploys it: a shared Redis cache, so single POSTs share grading messages
    # (_enqueue_grading_once) and the token look-up is cached; exactly once must hold all the same.
    cache_url = shared_broker_url.rsplit("/", 1)[0] + "/" + os.environ.get("GRADER_TEST_LOAD_CACHE_DB", "14")
    redis.Redis.from_url(cache_url).flushdb()
    web = launcher.gunicorn(shared_broker_url, workers=2, threads=4, CACHE_URL=cache_url)
    workers = [launcher.worker(shared_broker_url, concurrency=2, CACHE_URL=cache_url, **one_thread)]
    started = time.monotonic()
    deadline = started + DEADLINE_SECONDS

    def client(index: int) -> list[tuple[int, float]]:
        results = []
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            for number in range(index, SUBMISSIONS, CLIENTS):
                if time.monotonic() > deadline:
                    break
                sent = time.monotonic()
                try:
                    response = session.post(
                        f"{web}/api/v1/submissions/",
                        json={
                            "question": question_ids[number % len(question_ids)],
                            "student_ref": f"student-{number}",
                            "external_id": f"load-{number}",
                            "answer": ANSWERS[number % len(ANSWERS)],
                        },
                        timeout=60,
                    )
                    status = response.status_code
                except requests.RequestException:
                    status = 0
                results.append((status, time.monotonic() - sent))
        return results

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = [result for share in pool.map(client, range(CLIENTS)) for result in share]
    submitted = time.monotonic()

    statuses = Counter(status for status, _ in results)
    assert statuses == {202: SUBMISSIONS}, f"responses by status (0: no response): {dict(statuses)}"
    assert Submission.objects.count() == SUBMISSIONS

    remaining = max(1.0, deadline - time.monotonic())
    # Graded: released, or held for a teacher by the checks (both are a grade written once).
    finished = [Submission.Status.GRADED, Submission.Status.NEEDS_REVIEW]
    wait_until(
        lambda: Submission.objects.filter(status__in=finished).count() == SUBMISSIONS,
        timeout=remaining,
        interval=1.0,
    )
    graded = time.monotonic()

    assert Submission.objects.filter(status__in=finished).count() == SUBMISSIONS
    assert not Submission.objects.exclude(grading_attempts=1).exists(), "a submission was claimed twice"

    # Every grade written leaves one outbox row in its own transaction (graded_outbox).
    grades_written = Counter(
        WebhookDelivery.objects.filter(event_type="submission.graded").values_list("submission_id", flat=True)
    )
    assert len(grades_written) == SUBMISSIONS
    assert set(grades_written.values()) == {1}, "a grade was written twice"
    # 50 clients at once: POSTs found a message already waiting and sent none (the path under test was taken).
    messages = sum(
        line.startswith("[") and "grader.tasks.grade_submission[" in line and line.endswith("] received")
        for worker in workers
        for line in worker.log().splitlines()
    )
    print(f"{messages} grading messages for {SUBMISSIONS} single POSTs")
    assert 0 < messages < SUBMISSIONS

    if REPORT_PATH:
        latencies = sorted(latency for _, latency in results)
        report = {
            "submissions": SUBMISSIONS,
            "clients": CLIENTS,
            "submit_seconds": round(submitted - started, 1),
            "requests_per_second": round(SUBMISSIONS / (submitted - started), 1),
            "latency_p50_ms": round(1000 * statistics.median(latencies)),
            "latency_p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))]),
            "latency_max_ms": round(1000 * latencies[-1]),
            "all_graded_seconds": round(graded - started, 1),
            "graded_per_second": round(SUBMISSIONS / (graded - started), 1),
        }
        with open(REPORT_PATH, "w") as handle:
            json.dump(report, handle)
