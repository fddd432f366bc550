"""Worker heartbeats: each Celery worker records that it is alive; readiness asks whether any worker is."""

from __future__ import annotations

from django.db.models.functions import Now

from grader.models import WorkerHeartbeat


def worker_heartbeat_record(*, hostname: str, incarnation: str, queues: list[str]) -> None:
    WorkerHeartbeat.objects.update_or_create(
        # The database's clock: a worker whose own clock is wrong must not look dead (or alive) to the others.
        hostname=hostname[:255],
        defaults={"incarnation": incarnation, "queues": ",".join(queues)[:255], "last_seen_at": Now()},
    )
