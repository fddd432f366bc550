"""A grading worker loads the active model as it starts, not when the first answer arrives.

Each prefork pool process loads its own copy (a model loaded before the fork would share the runtime's thread
pools across processes). A thread, not the process-init signal handler itself: Celery gives a pool process a few
seconds to report that it is up (``worker_proc_alive_timeout``), less than a load takes on a busy machine. A task
that arrives meanwhile waits for the same load (``load_model`` holds a lock), it never loads a second copy.
"""

from __future__ import annotations

import logging
import threading

from celery import current_app
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

GRADING_QUEUE = "grading"


def _warm() -> None:
    from grader.services.grading_models import model_warm_active

    try:
        if model_warm_active() is None:
            logger.info("no active model version yet: the model loads with the first answer")
    except Exception as error:  # noqa: BLE001 - a failed warm-up only costs the first answer its load time
        logger.warning("the model was not loaded ahead of the first answer: %s", error)
    finally:
        connection.close()  # this thread's own connection; nothing else would close it


def consumes_grading_queue() -> bool:
    # The worker's app (grader.celery's), current in its pool processes; its -Q queues were set before the fork.
    return GRADING_QUEUE in (current_app.amqp.queues.consume_from or {})


def warm_in_background(**kwargs) -> None:
    """worker_process_init's receiver (grader/celery.py)."""
    # Training and webhook workers never grade: the model would only take their memory.
    if settings.GRADER_WORKER_WARM_UP and consumes_grading_queue():
        threading.Thread(target=_warm, name="grader-warm-up", daemon=True).start()
