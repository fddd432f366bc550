"""torch's thread pool is sized to the cores each worker pool process may use."""

import os

from grader.scoring.model import torch_threads


def test_pool_processes_share_the_cores(settings, monkeypatch):
    settings.GRADER_TORCH_THREADS = 0
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv("GRADER_WORKER_PROCESSES", "1")
    assert torch_threads() == cores
    monkeypatch.setenv("GRADER_WORKER_PROCESSES", str(cores * 4))
    assert torch_threads() == 1


def test_an_explicit_setting_wins(settings, monkeypatch):
    monkeypatch.setenv("GRADER_WORKER_PROCESSES", "64")
    settings.GRADER_TORCH_THREADS = 3
    assert torch_threads() == 3
