"""Celery tasks: take ids, call one service. Services send them through grader.dispatch, never by import.

Grading, training and webhook deliveries run on separate queues; which task goes where is CELERY_TASK_ROUTES.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from grader import heartbeat
from grader.services import idempotency, model_versions, regrading, submissions, webhooks

logger = logging.getLogger(__name__)

# Errors worth another try: the database blinked, or the first model version is still being trained.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, model_versions.NoActiveModelVersion)


class GradingTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if args:
            submissions.submission_mark_failed(submission_id=args[0], error=repr(exc))


@shared_task(
    base=GradingTask,
    bind=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=120,
    time_limit=180,
)
def grade_submission(self, submission_id: int) -> int:
    # Takes other queued submissions along (one encode call for all); their own messages then find nothing to do.
    delivery = submissions.GradingDelivery(
        worker=heartbeat.WORKER_INCARNATION, task_id=self.request.id or "", retries=self.request.retries or 0
    )
    return submissions.submissions_grade_queued(submission_id=submission_id, delivery=delivery)


@shared_task(soft_time_limit=60, time_limit=90)
def requeue_stale_submissions() -> int:
    return submissions.submissions_requeue_stale()


@shared_task(soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300, acks_late=False)
def retrain_model(trigger: str = "schedule", force: bool = False) -> int | None:
    # acks_late off: a fine-tune killed halfway should not silently start over on another worker; the next
    # scheduled run picks up the same corrections.
    try:
        return model_versions.model_retrain(trigger=trigger, force=force).pk
    except model_versions.TrainingAlreadyRunning as refused:
        logger.warning("retrain refused: %s", refused)
        return None


# Webhooks have their own queue and workers (CELERY_TASK_ROUTES): a receiver that answers slowly (up to the 10 s
# timeout, eight times per event) holds a webhooks process, never a grading one.
@shared_task(bind=True, soft_time_limit=30, time_limit=60, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> bool:
    # The service decides whether and when to try again (backoff, attempt limit); the retry is just the timer.
    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.succeeded


@shared_task(soft_time_limit=60, time_limit=90)
def requeue_due_webhook_deliveries() -> int:
    return webhooks.webhook_deliveries_requeue_due()


@shared_task(soft_time_limit=60, time_limit=90)
def purge_expired_idempotency_keys() -> int:
    return idempotency.idempotency_records_purge_expired()


# Hard time limits below regrading.REGRADE_LEASE and DRY_RUN_LEASE: a request is sent again only once its task
# is surely over.
@shared_task(soft_time_limit=600, time_limit=660)
def regrade_question(question_id: int) -> int:
    return regrading.question_regrade_requested(question_id=question_id)


@shared_task(soft_time_limit=60, time_limit=90)
def requeue_stale_regrades() -> int:
    return regrading.regrades_requeue_stale()


@shared_task(soft_time_limit=1800, time_limit=1900)
def dry_run_model_version(version_id: int) -> dict:
    return regrading.model_version_dry_run_requested(version_id=version_id)


@shared_task(soft_time_limit=60, time_limit=90)
def requeue_stale_dry_runs() -> int:
    return regrading.dry_runs_requeue_stale()
