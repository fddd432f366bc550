"""Redis down while an LMS submits: the API still accepts and stores the answer (202, status `queued`), readiness
says the broker is down, and once Redis is back the sweeper gets it graded with no manual step.

As docker-compose deploys it, the same Redis is also the cache (throttle counters, token look-ups): both fail open.

Runs its own redis-server on a private port, so stopping it touches nobody else's broker.
"""

import signal

import pytest
import requests

from grader.models import Submission
from tests.reliability.conftest import (
    PRIVATE_REDIS_PORT,
    assert_graded_once,
    sweep_every_second,
    wait_for_status,
)

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def test_submissions_accepted_while_redis_is_down_are_graded_once_it_is_back(
    launcher, base_model_version, graded_outbox, gradient_descent_question, integration_and_token
):
    _, token = integration_and_token
    broker_url = f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0"
    shared_cache = {"CACHE_URL": f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/1"}
    redis_server = launcher.redis()
    sweep_every_second()
    quick_sweeper = {"GRADER_REQUEUE_QUEUED_AFTER_SECONDS": "2"}
    web = launcher.gunicorn(broker_url, **shared_cache)
    launcher.worker(broker_url, **quick_sweeper, **shared_cache)
    launcher.beat(broker_url)
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{web}/readyz", timeout=10).json()["checks"]["broker"] == "ok"

    def submit(number: int) -> int:
        # A request that hung on the broker would fail here with a timeout instead of an answer.
        response = requests.post(
            f"{web}/api/v1/submissions/",
            json={
                "question": gradient_descent_question.pk,
                "student_ref": f"student-{number}",
                "external_id": f"offline-{number}",
                "answer": "It repeatedly steps against the gradient so the loss decreases.",
            },
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "queued"
        return response.json()["id"]

    # Frozen: Redis accepts connections but never answers (the socket timeouts end the publish).
    redis_server.popen.send_signal(signal.SIGSTOP)
    accepted = [submit(0)]
    # Down: connections refused.
    redis_server.kill_group()
    readiness = requests.get(f"{web}/readyz", timeout=30)
    assert readiness.status_code == 503
    assert readiness.json()["checks"]["broker"] == "fail"
    accepted += [submit(1), submit(2)]

    assert Submission.objects.filter(pk__in=accepted, status=Submission.Status.QUEUED).count() == 3
    assert "could not publish grading of submission" in web_log(launcher)

    launcher.redis()  # Redis comes back, empty: the messages that failed to publish never existed.
    for submission_id in accepted:
        graded = wait_for_status(submission_id, Submission.Status.GRADED, timeout=120)
        assert 0 <= graded.points <= gradient_descent_question.max_points
        assert_graded_once(submission_id)
    assert requests.get(f"{web}/readyz", timeout=10).status_code == 200


def web_log(launcher) -> str:
    return "".join(process.log() for process in launcher.started if process.name == "gunicorn")
