"""Webhooks: integrations register callback URLs; grader POSTs signed events about their courses' submissions.

Deliveries are an outbox: rows written in the same transaction as the grade change, sent by a task enqueued on
commit, retried with exponential backoff, every attempt logged, replayable from the admin.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from grader import dispatch
from grader.models import Integration, Submission, WebhookDelivery, WebhookEndpoint
from grader.services.webhook_http import webhook_post, webhook_url_check

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Grader-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a public prefix, not a secret


def webhook_signature(*, secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix seconds>,v1=<hex>``: HMAC-SHA256, with the endpoint's secret, of ``<t>.`` and the exact body bytes.

    The signed time lets a receiver refuse a delivery recorded and sent again later (a replay): the body alone
    would verify for ever. Each attempt is signed afresh with its own time.
    """
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


@transaction.atomic
def webhook_endpoint_create(*, integration: Integration, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    webhook_url_check(url)
    # Each endpoint multiplies every event into a delivery and up to eight outgoing requests: a bounded number.
    # The integration's row is locked so that two concurrent registrations cannot both pass the count.
    Integration.objects.select_for_update().filter(pk=integration.pk).first()
    active = WebhookEndpoint.objects.filter(integration=integration, is_active=True).count()
    if active >= settings.GRADER_WEBHOOK_MAX_ENDPOINTS:
        raise ValidationError(
            {
                "url": f"An integration may have at most {settings.GRADER_WEBHOOK_MAX_ENDPOINTS} active webhooks; "
                "delete one first."
            }
        )
    return WebhookEndpoint.objects.create(
        integration=integration,
        url=url,
        events=sorted(set(events or [])),
        secret=SECRET_PREFIX + secrets.token_urlsafe(32),
    )


def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)


def _submission_payload(submission: Submission) -> dict:
    final = submission.final_points
    return {
        "id": submission.pk,
        "question": submission.question_id,
        "course": submission.question.course_id,
        "student_ref": submission.student_ref,
        "external_id": submission.external_id,
        "status": submission.status,
        "similarity": submission.similarity,
        "points": None if submission.points is None else str(submission.points),
        "confidence": submission.confidence,
        "review_reasons": submission.review_reason_list,
        "corrected_points": None if submission.corrected_points is None else str(submission.corrected_points),
        "final_points": None if final is None else str(final),
        "model_version": submission.model_version.name if submission.model_version else None,
        "graded_at": submission.graded_at,
        "updated_at": submission.updated_at,
    }


def webhook_event_submission(*, submission_id: int, event: str, reason: str) -> int:
    """Record one delivery per interested endpoint and send them once the caller's transaction commits.

    Called from the grading and correction services at the moment the grade changes, inside their transaction,
    so the deliveries exist if and only if the change committed. Returns the number of deliveries recorded.
    Receivers are never contacted here: a slow or broken receiver cannot hold up a grade.
    """
    submission = Submission.objects.select_related("question", "model_version").get(pk=submission_id)
    candidates = WebhookEndpoint.objects.filter(
        is_active=True,
        integration__revoked_at__isnull=True,
        integration__courses=submission.question.course_id,
    ).distinct()
    endpoints = [endpoint for endpoint in candidates if not endpoint.events or event in endpoint.events]
    if not endpoints:
        return 0
    event_id = uuid.uuid4()
    body = json.dumps(
        {
            "id": str(event_id),
            "type": event,
            "reason": reason,
            "created_at": timezone.now(),
            "data": {"submission": _submission_payload(submission)},
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event_id=event_id,
            event_type=event,
            submission=submission,
            body=body,
            next_attempt_at=timezone.now(),
        )
        for endpoint in endpoints
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: [dispatch.enqueue_delivery(delivery_id) for delivery_id in ids])
    return len(ids)


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter on the upper half: base * 2**(attempt-1), capped."""
    ceiling = min(
        settings.GRADER_WEBHOOK_BACKOFF_MAX_SECONDS, settings.GRADER_WEBHOOK_BACKOFF_SECONDS * 2 ** (attempt - 1)
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class AttemptOutcome:
    sent: bool  # this call made an HTTP attempt
    succeeded: bool = False
    retry_in: float | None = None  # seconds until the next attempt, if one is due


def webhook_delivery_attempt(*, delivery_id: int) -> AttemptOutcome:
    """Send one pending delivery once. Idempotent: a delivery is claimed by a conditional UPDATE first."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=WebhookDelivery.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now)
    )
    if not claimed:
        return AttemptOutcome(sent=False)
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = delivery.body.encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "grader-webhooks/1",
        "X-Grader-Event": delivery.event_type,
        "X-Grader-Event-Id": str(delivery.event_id),
        "X-Grader-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: webhook_signature(
            secret=delivery.endpoint.secret, body=body, timestamp=int(timezone.now().timestamp())
        ),
    }
    status_code: int | None = None
    error = ""
    try:
        status_code = webhook_post(url=delivery.endpoint.url, body=body, headers=headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except ValidationError as refused:
        error = "; ".join(refused.messages)
    except Exception as failure:  # noqa: BLE001 - whatever the client raises, the attempt failed and is recorded
        # A row must never stay "sending": the beat job would send it again and again for ever.
        error = repr(failure)[:500]
    log = [*delivery.attempt_log, {"at": now.isoformat(), "status_code": status_code, "error": error}]
    fields: dict = {"last_status_code": status_code, "last_error": error, "attempt_log": log}
    if not error:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.SUCCEEDED, delivered_at=timezone.now(), next_attempt_at=None, **fields
        )
        return AttemptOutcome(sent=True, succeeded=True)
    if delivery.attempts >= settings.GRADER_WEBHOOK_MAX_ATTEMPTS:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, **fields
        )
        logger.warning("webhook delivery %s failed after %s attempts: %s", delivery_id, delivery.attempts, error)
        return AttemptOutcome(sent=True)
    retry_in = backoff_seconds(delivery.attempts)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=now + timedelta(seconds=retry_in), **fields
    )
    return AttemptOutcome(sent=True, retry_in=retry_in)


def webhook_deliveries_requeue_due(*, sending_for: timedelta = timedelta(minutes=5)) -> int:
    """Enqueue deliveries whose retry is due but whose message was lost, and those a dead worker left sending.

    A margin keeps it from racing the message that is on its way; a duplicate message does nothing anyway.
    """
    now = timezone.now() - timedelta(minutes=1)
    WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SENDING, next_attempt_at__lt=now - sending_for).update(
        status=WebhookDelivery.Status.PENDING
    )
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lt=now).values_list(
            "pk", flat=True
        )[:1000]
    )
    sent = 0
    for delivery_id in due:
        if not dispatch.enqueue_delivery(delivery_id):
            break  # the broker is down: every other publish would fail too; the next sweep tries again
        sent += 1
    return sent


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send an event again as a new delivery (same event id and body), keeping the original's log intact."""
    replay = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        submission=delivery.submission,
        body=delivery.body,
        replay_of=delivery,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: dispatch.enqueue_delivery(replay.pk))
    return replay
