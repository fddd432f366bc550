"""Every message grader hands to Celery, and the one rule for a broker that cannot take it.

The work is recorded in the database before its message is published: a ``queued`` submission, a ``pending``
webhook delivery, a question's ``regrade_requested_at``, a version's ``dry_run_requested_at``. A message only tells
a worker where to look, and every task is idempotent. So a message the broker cannot take loses nothing: the
failure is logged, the caller carries on (an API request still answers, an admin action still returns), and a
sweeper that beat runs every minute publishes again whatever recorded work has waited too long. A retrain needs
no record of its own: the next scheduled retrain trains on the same corrections.

Publishing is bounded (CELERY_TASK_PUBLISH_RETRY_POLICY, the broker's socket timeouts): with the broker down a
publish fails in about a second instead of hanging the request.

Services call these functions, tasks call services. Messages name their task, so neither this module nor any
service imports grader.tasks, and which queue a task goes to is stated once, in CELERY_TASK_ROUTES.
"""

from __future__ import annotations

import logging
from typing import Any

from grader.celery import app

logger = logging.getLogger(__name__)

GRADE_SUBMISSION = "grader.tasks.grade_submission"
DELIVER_WEBHOOK = "grader.tasks.deliver_webhook"
REGRADE_QUESTION = "grader.tasks.regrade_question"
DRY_RUN_MODEL_VERSION = "grader.tasks.dry_run_model_version"
RETRAIN_MODEL = "grader.tasks.retrain_model"


def _publish(
    task: str, *, args: tuple = (), kwargs: dict[str, Any] | None = None, countdown: float | None = None, what: str
) -> bool:
    """Publish ``task``; on any broker error log it and return False, leaving the recorded work to its sweeper."""
    try:
        # A signature uses the registered task when this process has it (its options, eager mode in a shell),
        # else sends by name.
        app.signature(task, args=args, kwargs=kwargs or {}).apply_async(countdown=countdown)
    except Exception:
        # Whatever the transport raises (connection refused, timeout, a full or read-only Redis): the caller's
        # work is committed and must not fail because its wake-up call did.
        logger.warning("could not publish %s; its sweeper will publish it again", what, exc_info=True)
        return False
    return True


def enqueue_grading(submission_id: int) -> bool:
    """Wake a grading worker for a ``queued`` submission (requeue_stale_submissions is its sweeper)."""
    return _publish(GRADE_SUBMISSION, args=(submission_id,), what=f"grading of submission {submission_id}")


def enqueue_delivery(delivery_id: int, *, countdown: float | None = None) -> bool:
    """Wake a webhooks worker for a ``pending`` delivery (requeue_due_webhook_deliveries is its sweeper)."""
    return _publish(DELIVER_WEBHOOK, args=(delivery_id,), countdown=countdown, what=f"webhook delivery {delivery_id}")


def enqueue_regrade(question_id: int) -> bool:
    """Wake a grading worker for a question whose regrade is requested (requeue_stale_regrades is its sweeper)."""
    return _publish(REGRADE_QUESTION, args=(question_id,), what=f"regrade of question {question_id}")


def enqueue_dry_run(version_id: int) -> bool:
    """Wake a training worker for a version whose dry run is requested (requeue_stale_dry_runs is its sweeper)."""
    return _publish(DRY_RUN_MODEL_VERSION, args=(version_id,), what=f"dry run of model version {version_id}")


def enqueue_retrain(*, trigger: str, force: bool = False) -> bool:
    """Ask a training worker to retrain now; if this cannot be sent, the next scheduled retrain does the work."""
    return _publish(RETRAIN_MODEL, kwargs={"trigger": trigger, "force": force}, what=f"retrain ({trigger})")
