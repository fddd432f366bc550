"""Workers yield the CPU to web requests on a shared machine (GRADER_WORKER_NICE)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.django_db(transaction=True)
def test_worker_and_its_pool_processes_run_at_a_lower_priority_than_web(celery_worker_process):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    expected = min(19, ours + settings.GRADER_WORKER_NICE)
    assert settings.GRADER_WORKER_NICE > 0

    pool = _children(celery_worker_process.pid)

    assert pool, "the prefork worker has pool processes"
    for pid in [celery_worker_process.pid, *pool]:
        assert os.getpriority(os.PRIO_PROCESS, pid) == expected
