"""The sweeper (beat, every minute) re-enqueues what a broker outage or a dead worker left behind, gives up on a
submission that keeps killing workers, and stops at the first failed publish while the broker is down."""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from grader import dispatch
from grader.models import Submission, WorkerHeartbeat
from grader.services.submissions import submissions_grade_queued, submissions_requeue_stale


@pytest.fixture
def published(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_grading", lambda submission_id: sent.append(submission_id) or True)
    return sent


def make(question, *, status: str, age: timedelta, attempts: int = 0, worker: str = "") -> Submission:
    submission = Submission.objects.create(question=question, student_ref="s", answer="a", status=status)
    moment = timezone.now() - age
    Submission.objects.filter(pk=submission.pk).update(
        updated_at=moment, grading_started_at=moment, grading_attempts=attempts, grading_worker=worker
    )
    return submission


def test_stale_queued_and_expired_grading_are_re_enqueued_and_fresh_ones_left_alone(
    published, gradient_descent_question, settings
):
    question = gradient_descent_question
    stale_queued = make(question, status="queued", age=timedelta(minutes=5))
    fresh_queued = make(question, status="queued", age=timedelta(seconds=10))
    dead_worker = make(question, status="grading", age=timedelta(minutes=10), attempts=1)
    still_grading = make(question, status="grading", age=timedelta(seconds=30), attempts=1)
    make(question, status="graded", age=timedelta(days=1))

    assert submissions_requeue_stale() == 2
    assert sorted(published) == sorted([stale_queued.pk, dead_worker.pk])
    # The clocks restart: the next sweep does not enqueue the same rows again.
    published.clear()
    assert submissions_requeue_stale() == 0
    assert fresh_queued.pk not in published and still_grading.pk not in published


def test_the_message_the_sweeper_sends_for_a_dead_workers_claim_grades_it_at_once(
    published, gradient_descent_question, base_model_version
):
    # The re-enqueued task arrives within milliseconds. It must find the row claimable: a sweep that only restarted
    # the lease clock left it "grading" under a fresh claim, so the task returned without grading, and the next
    # sweep did the same again, for ever (seen as an intermittent failure of the whole-worker-killed test).
    dead_worker = make(gradient_descent_question, status="grading", age=timedelta(minutes=10), attempts=1)
    assert submissions_requeue_stale() == 1
    assert published == [dead_worker.pk]
    dead_worker.refresh_from_db()
    assert dead_worker.status == Submission.Status.QUEUED

    assert submissions_grade_queued(submission_id=dead_worker.pk) == 1
    dead_worker.refresh_from_db()
    assert dead_worker.status in {Submission.Status.GRADED, Submission.Status.NEEDS_REVIEW}
    assert dead_worker.grading_attempts == 2


def test_a_submission_that_never_finishes_grading_is_marked_failed_not_requeued(
    published, gradient_descent_question, settings
):
    poison = make(
        gradient_descent_question,
        status="grading",
        age=timedelta(minutes=10),
        attempts=settings.GRADER_MAX_GRADING_ATTEMPTS,
    )
    assert submissions_requeue_stale() == 0
    poison.refresh_from_db()
    assert poison.status == Submission.Status.FAILED
    assert "never finished" in poison.error


def test_sweep_stops_at_the_first_failed_publish_and_leaves_rows_for_the_next_sweep(
    monkeypatch, gradient_descent_question
):
    attempts: list[int] = []

    class Refused:
        def __init__(self, task: str, *, args: tuple, kwargs: dict) -> None:
            attempts.append(args[0])

        def apply_async(self, **options) -> None:
            raise OperationalError("Error 111 connecting to redis")

    monkeypatch.setattr(dispatch.app, "signature", Refused)
    rows = [make(gradient_descent_question, status="queued", age=timedelta(minutes=5)) for _ in range(3)]
    assert submissions_requeue_stale() == 0
    assert len(attempts) == 1
    assert Submission.objects.filter(pk__in=[row.pk for row in rows], status="queued").count() == 3


def test_a_sweeper_whose_clock_runs_ahead_leaves_a_live_claim_alone(published, gradient_descent_question, monkeypatch):
    live = make(gradient_descent_question, status="grading", age=timedelta(seconds=0), attempts=1)
    true_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: true_now() + timedelta(seconds=400))  # past the 300 s lease

    assert submissions_requeue_stale() == 0
    live.refresh_from_db()
    assert live.status == Submission.Status.GRADING


def test_the_claims_of_a_worker_whose_heartbeat_stopped_are_handed_back_before_their_lease(
    published, gradient_descent_question, settings
):
    settings.GRADER_WORKER_LOST_AFTER_SECONDS = 30
    now = timezone.now()
    WorkerHeartbeat.objects.create(hostname="celery@gone", incarnation="gone", last_seen_at=now - timedelta(minutes=1))
    WorkerHeartbeat.objects.create(hostname="celery@here", incarnation="here", last_seen_at=now)
    question = gradient_descent_question
    orphaned = make(question, status="grading", age=timedelta(seconds=45), attempts=1, worker="gone")
    make(question, status="grading", age=timedelta(seconds=45), attempts=1, worker="here")
    # A worker that claims before its first heartbeat is written is not taken for dead.
    make(question, status="grading", age=timedelta(seconds=1), attempts=1, worker="starting")

    assert submissions_requeue_stale() == 1
    assert published == [orphaned.pk]
    orphaned.refresh_from_db()
    assert orphaned.status == Submission.Status.QUEUED
