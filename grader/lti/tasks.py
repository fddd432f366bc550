"""LTI tasks: take ids, call one service. Their queue (webhooks, beside the other outgoing calls) is in
CELERY_TASK_ROUTES."""

from __future__ import annotations

from celery import shared_task

from grader.lti import passback, tool


# A platform that answers slowly holds a webhooks process, never a grading one.
@shared_task(bind=True, soft_time_limit=60, time_limit=90, max_retries=None)
def post_lti_score(self, passback_id: int) -> bool:
    # The service decides whether and when to try again (backoff, attempt limit); the retry is just the timer.
    outcome = passback.lti_score_post(passback_id=passback_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.succeeded


@shared_task(soft_time_limit=60, time_limit=90)
def requeue_due_lti_scores() -> int:
    return passback.lti_scores_requeue_due()


@shared_task(soft_time_limit=60, time_limit=90)
def purge_expired_lti_launch_state() -> int:
    return tool.launch_state_purge_expired()
