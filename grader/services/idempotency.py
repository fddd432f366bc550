"""``Idempotency-Key``: the first request with a key decides; a retry with the same key gets the same result.

The key's row is inserted first, inside the request's transaction. A concurrent retry with the same key blocks
on the unique index until the first commits (then it reads the first result) or rolls back (then it proceeds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from grader.models import IdempotencyRecord, Integration


class IdempotencyKeyReused(Exception):
    """The key was first used for a different request; reusing it for another one is a client bug."""


@dataclass(frozen=True)
class IdempotentResult:
    submission_ids: list[int]
    replayed: bool


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


def idempotent_submissions(
    *, integration: Integration, key: str, fingerprint: str, create: Callable[[], list[int]]
) -> IdempotentResult:
    """Run ``create`` (which returns submission ids) once per ``(integration, key)``."""
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(integration=integration, key=key, fingerprint=fingerprint)
            ids = create()
            IdempotencyRecord.objects.filter(pk=record.pk).update(submission_ids=ids)
            return IdempotentResult(submission_ids=ids, replayed=False)
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(integration=integration, key=key).first()
        if record is None:  # the IntegrityError came from create() itself
            raise
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused(key)
    return IdempotentResult(submission_ids=list(record.submission_ids), replayed=True)
