"""``Idempotency-Key``: the first request with a key decides; a retry with the same key gets the same result.

The key's row is inserted first, inside the request's transaction. A concurrent retry with the same key blocks
on the unique index until the first commits (then it reads the first result) or rolls back (then it proceeds).

A key is remembered for ``GRADER_IDEMPOTENCY_KEY_TTL_HOURS``. After that it is forgotten: the same key is a new
request (``external_id`` still deduplicates, for ever). Beat purges expired rows; until it does, an expired row
is ignored, so expiry does not depend on when the purge last ran.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from grader.models import IdempotencyRecord, Integration


class IdempotencyKeyReused(Exception):
    """The key was first used for a different request; reusing it for another one is a client bug."""


@dataclass(frozen=True)
class IdempotentResult:
    submission_ids: list[int]
    replayed: bool


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


def idempotency_key_expiry(*, now: datetime | None = None) -> datetime:
    """Records created before this are expired."""
    return (now or timezone.now()) - timedelta(hours=settings.GRADER_IDEMPOTENCY_KEY_TTL_HOURS)


def idempotent_submissions(
    *, integration: Integration, key: str, fingerprint: str, create: Callable[[], list[int]]
) -> IdempotentResult:
    """Run ``create`` (which returns submission ids) once per ``(integration, key)`` within the key's lifetime."""
    try:
        with transaction.atomic():
            # An expired record is forgotten here, in the same transaction: if ``create`` fails, it stays.
            IdempotencyRecord.objects.filter(
                integration=integration, key=key, created_at__lt=idempotency_key_expiry()
            ).delete()
            record = IdempotencyRecord.objects.create(integration=integration, key=key, fingerprint=fingerprint)
            ids = create()
            IdempotencyRecord.objects.filter(pk=record.pk).update(submission_ids=ids)
            return IdempotentResult(submission_ids=ids, replayed=False)
    except IntegrityError:
        stored = IdempotencyRecord.objects.filter(integration=integration, key=key).first()
        if stored is None:  # the IntegrityError came from create() itself
            raise
        record = stored
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused(key)
    return IdempotentResult(submission_ids=list(record.submission_ids), replayed=True)


def idempotency_records_purge_expired(*, batch_size: int = 1000, max_batches: int = 100) -> int:
    """Delete expired records in batches of ``batch_size``, at most ``max_batches`` of them per call.

    Small batches keep each DELETE short (no long lock, no huge transaction) even after a backlog; the next
    scheduled run goes on where this one stopped. Returns how many rows were deleted.
    """
    deleted = 0
    for _ in range(max_batches):
        expired = IdempotencyRecord.objects.filter(created_at__lt=idempotency_key_expiry())
        batch = list(expired.values_list("pk", flat=True)[:batch_size])
        if not batch:
            break
        deleted += IdempotencyRecord.objects.filter(pk__in=batch).delete()[0]
        if len(batch) < batch_size:
            break
    return deleted
