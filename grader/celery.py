"""The Celery application: configuration comes from Django settings (``CELERY_*``), and every signal grader
connects to is connected here.

Routing is CELERY_TASK_ROUTES; the beat schedule is CELERY_BEAT_SCHEDULE, which beat's DatabaseScheduler writes
over its rows at start-up; messages are sent through grader.dispatch.
"""

import os

from celery import Celery
from celery.signals import celeryd_after_setup, worker_process_init, worker_ready, worker_shutdown

from grader import heartbeat, warmup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grader.settings")

app = Celery("grader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["grader"])

# Every worker records a heartbeat (readiness, and how the sweeper tells a dead worker's claims). weak=False: the
# receivers are module functions, but the connection must not depend on anyone keeping a reference.
worker_ready.connect(heartbeat.start, weak=False)
worker_shutdown.connect(heartbeat.stop, weak=False)
# A grading worker's pool processes load the active model as they start, not with the first answer.
worker_process_init.connect(warmup.warm_in_background, weak=False)


@celeryd_after_setup.connect
def _share_cores_among_pool_processes(sender=None, instance=None, **kwargs) -> None:
    # Each prefork child runs its own torch; left alone, every child would start one thread per core and they
    # would fight over the cores. The children inherit this before they fork and size torch's pool from it.
    pool = getattr(instance, "pool_cls", None)
    pool_name = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    processes = instance.concurrency if "prefork" in pool_name else 1
    os.environ["GRADER_WORKER_PROCESSES"] = str(max(1, processes or 1))
    _lower_priority()


def _lower_priority() -> None:
    # Grading and training are throughput work; the API's answers are what a person or an LMS waits for. On a
    # machine that runs both, a lower CPU priority for the workers (inherited by the pool processes) lets a
    # request preempt an encode instead of queueing behind it. Idle cores are still the workers' in full.
    from django.conf import settings

    if settings.GRADER_WORKER_NICE:
        os.nice(settings.GRADER_WORKER_NICE)
