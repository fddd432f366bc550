"""Accepting, grading and correcting student submissions."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Subquery
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now
from django.utils import timezone

from grader import dispatch
from grader.db import bulk_set, database_now
from grader.lti.passback import lti_scores_record
from grader.models import Correction, Integration, ModelVersion, Question, Submission, WorkerHeartbeat
from grader.scoring.grading import grade_batch
from grader.scoring.model import GradingModel
from grader.selectors import webhook_endpoints_active_exist
from grader.services.embeddings import graded_batch_embeddings_store
from grader.services.grades import graded_fields
from grader.services.grading_models import model_for_active_version
from grader.services.webhooks import webhook_event_submission
from grader.shared_cache import CACHE_ERRORS, available_redis, cache_failed, cache_key

logger = logging.getLogger(__name__)


# --- One grading message for many single POSTs ------------------------------------------------------------
# A grading task takes every queued submission it finds (up to a batch), so while one message is waiting for a
# worker, a second one for the next POST would only find its row already taken: a Celery publish (a sixth of a
# POST's CPU in the web process) and a task run for nothing. With a shared cache (Redis), a POST publishes only
# when no message is pending: SET NX on a short-lived key. A task deletes the key *before* each claim, so every
# submission is either committed before that claim's query (and claimed by it) or finds the key gone and
# publishes its own message (its on_commit runs after its COMMIT). The key's expiry bounds what a lost message,
# or a task that died before its delete, can hold back; the sweeper remains the backstop. Without a shared cache
# (locmem, the embedded default) every POST publishes, as before.
GRADING_PENDING_KEY = "grading:message-pending"
GRADING_PENDING_SECONDS = 2


def _enqueue_grading_once(submission_id: int) -> bool:
    """Publish a grading message for ``submission_id`` unless one is already waiting for a worker."""
    client = available_redis()
    if client is None:
        return dispatch.enqueue_grading(submission_id)
    try:
        if not client.set(cache_key(GRADING_PENDING_KEY), "1", ex=GRADING_PENDING_SECONDS, nx=True):
            return True  # the pending message's task will claim this row too
    except CACHE_ERRORS as error:
        cache_failed(error, what="every submission publishes its own grading message meanwhile")
        return dispatch.enqueue_grading(submission_id)
    published = dispatch.enqueue_grading(submission_id)
    if not published:
        _grading_message_taken()  # no message went out: the next POST must publish one
    return published


def _grading_message_taken() -> None:
    """A task is about to claim: submissions committed from now on need a message of their own."""
    client = available_redis()
    if client is None:
        return
    try:
        client.delete(cache_key(GRADING_PENDING_KEY))
    except CACHE_ERRORS as error:
        # The key expires within GRADING_PENDING_SECONDS; until then a POST may rely on this task's claim or
        # later ones, and the sweeper catches any row left behind.
        cache_failed(error, what="a grading message may be coalesced until its key expires")


def submission_create(
    *,
    question: Question,
    student_ref: str,
    answer: str,
    external_id: str | None = None,
    integration: Integration | None = None,
    enqueue: bool = True,
) -> tuple[Submission, bool]:
    """Store a student's answer as ``queued`` and enqueue its grading once the row is committed.

    Returns ``(submission, created)``. The same ``(question, external_id)`` posted again returns the first
    submission unchanged, including under concurrent retries (the database's unique constraint decides).
    ``enqueue=False`` leaves the message to the caller (submissions_create_many sends one per batch).
    """
    _validate_answer(answer)
    # No look-up for a replay first: a new answer is the common case, and the INSERT finds a replay anyway. Inside
    # a caller's transaction (a bulk upload, an idempotency key) the savepoint keeps a replay's IntegrityError from
    # aborting it. On its own, the INSERT in autocommit is already atomic and on_commit enqueues right after it
    # is committed; BEGIN and COMMIT would add two round trips to every POST.
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            submission = Submission.objects.create(
                question=question,
                integration=integration,
                student_ref=student_ref,
                external_id=external_id or None,
                answer=answer,
            )
            if enqueue:
                transaction.on_commit(lambda: _enqueue_grading_once(submission.pk))
    except IntegrityError:
        if not external_id:
            raise
        return Submission.objects.get(question=question, external_id=external_id), False
    return submission, True


def _validate_answer(answer: str) -> None:
    if not answer.strip():
        raise ValidationError({"answer": "The answer is empty."})
    if len(answer) > settings.GRADER_ANSWER_MAX_CHARS:
        raise ValidationError({"answer": f"The answer is longer than {settings.GRADER_ANSWER_MAX_CHARS} characters."})


@transaction.atomic
def submissions_create_many(*, integration: Integration | None, items: Sequence[dict]) -> list[tuple[Submission, bool]]:
    """Store many answers, all or none; ``items`` are submission_create's keyword arguments.

    Same results as submission_create item by item (an ``external_id`` already stored, or earlier in ``items``,
    is a replay), in four queries instead of three per item: one look-up of the replays, and one multi-row
    INSERT inside a savepoint. Should another request insert one of the same ``external_id`` meanwhile, the
    INSERT fails as a whole and the items go through submission_create one by one, which settles each race.

    One grading message per GRADER_GRADING_BATCH_SIZE new submissions instead of one each: a grading task
    claims a whole batch of whatever is queued anyway, and a message that finds its batch already taken is
    pure overhead (a tenth of the workers' time on a bulk upload). A submission is never left without a
    worker to take it: every task keeps claiming while it finds full batches (submissions_grade_queued), and
    the sweeper re-enqueues whatever stays queued.
    """
    for item in items:
        _validate_answer(item["answer"])
    try:
        with transaction.atomic():
            results = _submissions_insert_many(integration=integration, items=items)
    except IntegrityError:
        results = [submission_create(integration=integration, enqueue=False, **item) for item in items]
    created_ids = [submission.pk for submission, created in results if created]
    for first in created_ids[:: max(1, settings.GRADER_GRADING_BATCH_SIZE)]:
        transaction.on_commit(partial(dispatch.enqueue_grading, first))
    return results


def _submissions_insert_many(
    *, integration: Integration | None, items: Sequence[dict]
) -> list[tuple[Submission, bool]]:
    """Replays looked up in one query, the new rows written in one INSERT (IntegrityError if a race lost)."""
    keys = {(item["question"].pk, item["external_id"]) for item in items if item.get("external_id")}
    stored: dict[tuple[int, str | None], Submission] = {}
    if keys:
        candidates = Submission.objects.filter(
            question_id__in={question_id for question_id, _ in keys}, external_id__in={external for _, external in keys}
        )
        stored = {
            (row.question_id, row.external_id): row for row in candidates if (row.question_id, row.external_id) in keys
        }
    results: list[tuple[Submission, bool]] = []
    new_rows: list[Submission] = []
    for item in items:
        key = (item["question"].pk, item.get("external_id") or None)
        if key in stored:
            results.append((stored[key], False))
            continue
        submission = Submission(
            question=item["question"],
            integration=integration,
            student_ref=item["student_ref"],
            external_id=key[1],
            answer=item["answer"],
        )
        new_rows.append(submission)
        results.append((submission, True))
        if key[1] is not None:
            stored[key] = submission  # the same external_id again later in this request is a replay of this one
    Submission.objects.bulk_create(new_rows)
    return results


@dataclass(frozen=True)
class GradingDelivery:
    """Which delivery of a grading message is claiming: what a claim needs to tell a holder that is gone from a
    live copy of the same message (Redis hands an unacknowledged message out again after a stall)."""

    worker: str = ""  # grader.heartbeat.WORKER_INCARNATION of the worker running it
    task_id: str = ""
    retries: int = 0  # which try of the task: a retry is only sent once the earlier try has stopped


def submissions_grade_queued(*, submission_id: int, delivery: GradingDelivery | None = None) -> int:
    """Grade ``submission_id`` with a batch of others, then more batches while the queue keeps them full.

    At most GRADER_GRADING_DRAIN_BATCHES batches per call, so a task stays well inside its time limit and the
    other queues' messages get their turn. Returns how many grades this call recorded.
    """
    limit = settings.GRADER_GRADING_BATCH_SIZE
    recorded = 0
    for _ in range(max(1, settings.GRADER_GRADING_DRAIN_BATCHES)):
        _grading_message_taken()
        batch = submissions_grade_batch(submission_id=submission_id, limit=limit, delivery=delivery)
        recorded += len(batch.recorded)
        if len(batch.claimed) < limit:
            break
    else:
        # Stopped with full batches still coming: single POSTs behind them may have published nothing (their
        # message was this one), so another message carries on where this call stops.
        _enqueue_next_queued()
    return recorded


def _enqueue_next_queued() -> None:
    next_id = (
        Submission.objects.filter(status=Submission.Status.QUEUED).order_by("pk").values_list("pk", flat=True).first()
    )
    if next_id is not None:
        dispatch.enqueue_grading(next_id)


def submission_grade(*, submission_id: int) -> bool:
    """Grade one submission with the active model version. Idempotent.

    Returns True if this call recorded the grade. A submission already graded (a duplicate delivery), or being
    graded under another worker's live claim, is left alone; of two concurrent deliveries only one write lands.
    """
    return submission_id in submissions_grade_batch(submission_id=submission_id, limit=1).recorded


@dataclass(frozen=True)
class GradingBatch:
    claimed: tuple[int, ...]  # what this call took on, its own submission first when it could take it
    recorded: tuple[int, ...]  # what it graded; the rest was failed, or re-claimed after a lapsed lease


def submissions_grade_batch(
    *, submission_id: int, limit: int | None = None, delivery: GradingDelivery | None = None
) -> GradingBatch:
    """Grade ``submission_id`` and up to ``limit - 1`` other queued submissions together. Idempotent.

    The model encodes 32 answers much faster than 32 times one answer, so a worker that picks up one message
    takes whatever else is waiting, of any question, and grades it in the same encode call; the messages of
    the submissions it took then find nothing to do. Exactly once: rows are claimed with SELECT ... FOR UPDATE
    SKIP LOCKED (two workers never take the same row) under a claim id of their own, and a grade is written only
    while that claim on the row still stands. If grading raises, the claims are released so the retry, or any
    worker, takes them again at once.

    ``delivery`` says who is claiming (see _claimable): a claim whose holder is gone is taken back at once, one
    whose holder still runs is never taken, even by a copy of the same message.
    """
    limit = settings.GRADER_GRADING_BATCH_SIZE if limit is None else limit
    version, model = model_for_active_version()
    claim = uuid.uuid4().hex
    claimed = _submissions_claim(
        submission_id=submission_id, limit=limit, claim=claim, delivery=delivery or GradingDelivery()
    )
    if not claimed:
        return GradingBatch(claimed=(), recorded=())
    try:
        recorded = _submissions_score_and_record(ids=claimed, claim=claim, version=version, model=model)
    except BaseException:
        # BaseException: a soft time limit must also hand the rows back rather than strand them in "grading".
        Submission.objects.filter(pk__in=claimed, status=Submission.Status.GRADING, grading_claim=claim).update(
            status=Submission.Status.QUEUED
        )
        raise
    logger.info("graded %s of %s claimed submissions with %s", len(recorded), len(claimed), version.name)
    return GradingBatch(claimed=tuple(claimed), recorded=tuple(recorded))


def _submissions_claim(*, submission_id: int, limit: int, claim: str, delivery: GradingDelivery) -> list[int]:
    candidates = Submission.objects.select_for_update(skip_locked=True).filter(_claimable(delivery))
    with transaction.atomic():
        # Its own submission first, then the oldest others. Two index look-ups (grader.models: submission_claimable)
        # rather than one ORDER BY that puts the own row first, which would sort every claimable row of a backlog.
        ids = list(candidates.filter(pk=submission_id).values_list("pk", flat=True))
        if limit > 1 and len(ids) < limit:  # limit 1: this submission or nothing (submission_grade)
            others = candidates.exclude(pk=submission_id).order_by("pk").values_list("pk", flat=True)
            ids += list(others[: limit - len(ids)])
        if ids:
            Submission.objects.filter(pk__in=ids).update(
                status=Submission.Status.GRADING,
                grading_started_at=Now(),
                grading_claim=claim,
                grading_worker=delivery.worker,
                grading_pid=os.getpid(),
                grading_task_id=delivery.task_id,
                grading_task_retries=delivery.retries,
                grading_attempts=F("grading_attempts") + 1,
            )
    return ids


def _claimable(delivery: GradingDelivery) -> Q:
    """Waiting rows, and rows whose claim's holder is gone. Taking a claim is one attempt, so only those.

    A holder is gone when its lease has run out (by the database's clock); when it was a pool process of the
    claiming worker that no longer runs (killed: late ack + reject_on_worker_lost brought its message back); or
    when it was an earlier try of the claiming task (a try is only retried once it has stopped: the database
    blinked before its claims could be handed back). A copy of the same message running elsewhere at the same
    time holds a live claim, and leaves it alone: taking it would only make the two copies take the rows from
    each other until the attempts ran out. A whole worker that died is the sweeper's (submissions_requeue_stale).
    """
    claimable = Q(status=Submission.Status.QUEUED) | Q(
        status=Submission.Status.GRADING, grading_started_at__lt=_lease_start()
    )
    if delivery.worker:
        dead = _dead_pool_processes(worker=delivery.worker)
        if dead:
            claimable |= Q(status=Submission.Status.GRADING, grading_worker=delivery.worker, grading_pid__in=dead)
    if delivery.task_id and delivery.retries:
        claimable |= Q(
            status=Submission.Status.GRADING,
            grading_task_id=delivery.task_id,
            grading_task_retries__lt=delivery.retries,
        )
    return claimable


def _dead_pool_processes(*, worker: str) -> list[int]:
    """Processes of this worker (same machine, same process ids) that hold claims and have exited."""
    pids = (
        Submission.objects.filter(status=Submission.Status.GRADING, grading_worker=worker, grading_pid__isnull=False)
        .order_by()
        .values_list("grading_pid", flat=True)
        .distinct()
    )
    return [pid for pid in pids if pid is not None and not _process_runs(pid)]


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, under another user
    return True


def _lease_start() -> CombinedExpression:
    """Claims started before this, by the database's clock, have outlived the lease."""
    return Now() - grading_lease()


def _submissions_score_and_record(
    *, ids: list[int], claim: str, version: ModelVersion, model: GradingModel
) -> list[int]:
    submissions = list(
        Submission.objects.filter(pk__in=ids)
        .select_related("question")
        .prefetch_related("question__reference_answers")
        .only("pk", "answer", "question")
        .order_by("pk")
    )
    gradable = [submission for submission in submissions if submission.question.reference_answers.all()]
    gradable_ids = {submission.pk for submission in gradable}
    unanswerable = [submission.pk for submission in submissions if submission.pk not in gradable_ids]
    batch = grade_batch(
        model=model, version=version, items=[(submission.question, submission.answer) for submission in gradable]
    )
    graded_batch_embeddings_store(batch=batch, version=version)
    scores = batch.scores
    with transaction.atomic():
        # The database's clock comes along with the locks: a worker whose clock is wrong never stamps a grade
        # before its submission.
        rows = list(
            Submission.objects.select_for_update()
            .filter(pk__in=ids, status=Submission.Status.GRADING, grading_claim=claim)
            .annotate(database_now=Now())
            .values_list("pk", "corrected_points", "database_now")
        )
        still_ours = {pk: corrected_points for pk, corrected_points, _ in rows}
        graded_at = rows[0][2] if rows else None
        grades = {
            submission.pk: graded_fields(score=score, version=version, graded_at=graded_at)
            for submission, score in zip(gradable, scores, strict=True)
            if submission.pk in still_ours and graded_at is not None
        }
        for pk, values in grades.items():
            if still_ours[pk] is not None:
                # A teacher graded it while it waited (the workers were down, say): that grade is final, and the
                # auto grade only goes beside it. Awaiting review would put it back in the teacher's queue.
                values["status"] = Submission.Status.GRADED
        # One UPDATE for the whole batch, inside the transaction that holds the row locks.
        bulk_set(Submission, grades)
        # Webhook deliveries are recorded in the grade's own transaction (outbox); one query when nobody listens.
        if grades and webhook_endpoints_active_exist():
            for pk in grades:
                webhook_event_submission(submission_id=pk, event="submission.graded", reason="graded")
        if grades:
            # Scores for LMS gradebooks (LTI), recorded in the same transaction; one query when none came by LTI.
            lti_scores_record(submission_ids=grades)
        failed = [pk for pk in unanswerable if pk in still_ours]
        if failed:
            Submission.objects.filter(pk__in=failed).update(
                status=Submission.Status.FAILED, error="The question has no reference answer.", updated_at=graded_at
            )
    # One line per grade written, once it is committed: logged inside the transaction, a worker killed (or a
    # connection lost) before the commit would leave a line for a grade that was rolled back, and its retry a
    # second one. (A kill just after the commit leaves a grade without its line: count grades in the database.)
    for pk, values in grades.items():
        logger.info("submission %s graded: %s points by %s", pk, values["points"], version.name)
    return sorted(grades)


def submission_mark_failed(*, submission_id: int, error: str) -> None:
    """Called once retries are exhausted, so a teacher sees the failure instead of a submission stuck forever."""
    Submission.objects.filter(
        pk=submission_id, status__in=[Submission.Status.QUEUED, Submission.Status.GRADING]
    ).update(status=Submission.Status.FAILED, error=error[:2000])


def submissions_requeue_stale(*, queued_for: timedelta | None = None, batch_size: int = 1000) -> int:
    """Enqueue again what a lost message or a dead worker left behind. Safe to run any time: grading is idempotent.

    Run by beat every minute. Picks up submissions left ``queued`` (the broker was down when they arrived) past
    GRADER_REQUEUE_QUEUED_AFTER_SECONDS, and ``grading`` under a claim whose holder is gone: its worker has sent
    no heartbeat for GRADER_WORKER_LOST_AFTER_SECONDS (killed, or its machine lost: its message only comes back
    after Redis's visibility timeout, hours later), or the claim has outlived GRADER_GRADING_LEASE_SECONDS (a
    claim taken outside a worker, or a worker that hangs but still beats). A submission whose grading has been
    started GRADER_MAX_GRADING_ATTEMPTS times without finishing is marked failed: it is what kills the workers.
    Returns how many were re-enqueued.
    """
    now = database_now()  # the clock the claims were stamped with, whichever machine runs the sweep
    if queued_for is None:
        queued_for = timedelta(seconds=settings.GRADER_REQUEUE_QUEUED_AFTER_SECONDS)
    holder_gone = _holder_gone(now=now)
    poison = Submission.objects.filter(holder_gone, grading_attempts__gte=settings.GRADER_MAX_GRADING_ATTEMPTS)
    for submission_id in poison.values_list("pk", flat=True)[:batch_size]:
        submission_mark_failed(
            submission_id=submission_id,
            error=f"grading started {settings.GRADER_MAX_GRADING_ATTEMPTS} times and never finished",
        )
    stale_ids = list(
        Submission.objects.filter(Q(status=Submission.Status.QUEUED, updated_at__lt=now - queued_for) | holder_gone)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    )
    # A dead worker's claim is handed back before the message goes out: the task arrives within milliseconds and
    # claims queued rows. Restarting the lease clock instead left the row "grading" under a fresh claim, which
    # the task skipped, and every later sweep did the same: the submission was never graded. The filter repeats
    # the dead holder, so a claim taken since the SELECT above is left alone.
    Submission.objects.filter(holder_gone, pk__in=stale_ids).update(status=Submission.Status.QUEUED, updated_at=now)
    enqueued = []
    for submission_id in stale_ids:
        if not dispatch.enqueue_grading(submission_id):
            break  # the broker is down: every other publish would fail too; the next sweep tries again
        enqueued.append(submission_id)
    if enqueued:
        # Restart the clocks so the next sweep waits a full period before enqueueing the same rows again.
        Submission.objects.filter(pk__in=enqueued, status=Submission.Status.QUEUED).update(updated_at=now)
        logger.info("re-enqueued %s stale submissions", len(enqueued))
    return len(enqueued)


def _holder_gone(*, now: datetime) -> Q:
    """Claims whose holder is gone: their lease has run out, or their worker has stopped sending heartbeats.

    A claim is only judged by its worker's heartbeat once it is older than the heartbeat's tolerance itself, so
    a worker that claims before its first heartbeat is written is not taken for dead.
    """
    lost_after = timedelta(seconds=settings.GRADER_WORKER_LOST_AFTER_SECONDS)
    beating = WorkerHeartbeat.objects.filter(last_seen_at__gte=now - lost_after).values("incarnation")
    worker_lost = (
        ~Q(grading_worker="") & Q(grading_started_at__lt=now - lost_after) & ~Q(grading_worker__in=Subquery(beating))
    )
    return Q(status=Submission.Status.GRADING) & (Q(grading_started_at__lt=now - grading_lease()) | worker_lost)


def grading_lease() -> timedelta:
    """A claim older than this belongs to a dead worker; longer than the grading task's hard time limit."""
    return timedelta(seconds=settings.GRADER_GRADING_LEASE_SECONDS)


@transaction.atomic
def correction_create(*, submission: Submission, teacher: User, points: Decimal, comment: str = "") -> Correction:
    """A teacher's grade. The auto grade stays beside it; the latest correction is the submission's grade.

    A submission awaiting review (``needs_review``) becomes ``graded``: the teacher has looked at it, so its grade
    is final and released to the LMS, whether the points changed or not (a confirmation is a correction too).
    """
    submission = Submission.objects.select_for_update().select_related("question").get(pk=submission.pk)
    points = Decimal(points)
    if not Decimal("0") <= points <= submission.question.max_points:
        raise ValidationError({"points": f"Points must lie between 0 and {submission.question.max_points}."})
    correction = Correction.objects.create(
        submission=submission, teacher=teacher, points=points, comment=comment, auto_points=submission.points
    )
    changes: dict = {"corrected_points": points, "updated_at": timezone.now()}
    if submission.status == Submission.Status.NEEDS_REVIEW:
        # review_reasons stay: they explain the auto grade, which is kept beside the correction.
        changes["status"] = Submission.Status.GRADED
    Submission.objects.filter(pk=submission.pk).update(**changes)
    # After the UPDATE, inside the same transaction: the event's snapshot carries the new status and points.
    webhook_event_submission(submission_id=submission.pk, event="submission.grade_changed", reason="correction")
    lti_scores_record(submission_ids=[submission.pk])
    return correction
