"""A worker's heartbeat: a thread in the worker's main process records it every few seconds.

Readiness (grader/health.py) reports not ready when no worker has been heard from recently. A thread rather than
a timer on the worker's event loop: a slow or unreachable database must never stall message consumption.
grader/celery.py connects ``start`` to worker_ready and ``stop`` to worker_shutdown.
"""

from __future__ import annotations

import logging
import threading
import uuid

from django.conf import settings
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)

_stop = threading.Event()

# This worker's main process among every worker ever started. Set at import, which happens in the main process
# before the pool forks, so every pool process carries it into its claims. A worker restarted under the same
# hostname is a new incarnation: the claims of the one that died are then recognisably nobody's.
WORKER_INCARNATION = uuid.uuid4().hex


def _beat(*, hostname: str, queues: list[str]) -> None:
    from grader.services.workers import worker_heartbeat_record

    while True:
        try:
            worker_heartbeat_record(hostname=hostname, incarnation=WORKER_INCARNATION, queues=queues)
        except DatabaseError:
            logger.warning("worker heartbeat not recorded; retrying in %s s", settings.GRADER_WORKER_HEARTBEAT_SECONDS)
        finally:
            # No idle connection kept between beats: nothing to break when the database restarts, and nothing for
            # a pool process forked later to inherit.
            connection.close()
        if _stop.wait(settings.GRADER_WORKER_HEARTBEAT_SECONDS):
            return


def start(sender, **kwargs) -> None:
    """worker_ready's receiver: beat from a thread of the worker's main process until the worker stops."""
    queues = sorted(sender.app.amqp.queues.consume_from or {})
    _stop.clear()
    threading.Thread(
        target=_beat, kwargs={"hostname": sender.hostname, "queues": queues}, name="grader-heartbeat", daemon=True
    ).start()


def stop(**kwargs) -> None:
    """worker_shutdown's receiver."""
    _stop.set()
