"""Known-harmless third-party warnings are dropped by message and source, and nothing else is.

Each case runs in a fresh process with the project's settings loaded, as `manage.py` and the workers start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

EMIT = """
import logging, warnings
import django
django.setup()

def warn(message, module):
    warnings.warn_explicit(message, UserWarning, module.replace(".", "/") + ".py", 1, module=module)

warn("Converting a tensor to a Python boolean might cause the trace to be incorrect.", "transformers.masking_utils")
warn("Exporting aten::index operator of advanced indexing in opset 17 is achieved by", "torch.onnx.symbolic_opset11")
warn("Converting a tensor to a Python boolean might cause the trace to be incorrect.", "mypackage.tracing")
warn("UNRELATED-WARNING from torch.onnx", "torch.onnx.utils")
logging.warning("Please consider to run pre-processing before quantization. Refer to example: ...")
logging.warning("UNRELATED-ROOT-WARNING")
logging.getLogger("kombu.connection").warning("No hostname was supplied. Reverting to default 'localhost'")
logging.getLogger("kombu.connection").warning("UNRELATED-KOMBU-WARNING")
received = logging.getLogger("celery.worker.strategy")
traced = logging.getLogger("celery.app.trace")
received.warning("Task grader.tasks.requeue_stale_submissions[0f3c-idle] received")
traced.warning("Task grader.tasks.requeue_stale_submissions[0f3c-idle] succeeded in 0.004s: 0")
traced.warning("Task grader.tasks.requeue_due_webhook_deliveries[77aa-idle] succeeded in 0.01s: 0")
traced.warning("Task grader.tasks.requeue_stale_regrades[88bb-idle] succeeded in 1.5e-05s: 0")
traced.warning("Task grader.tasks.purge_expired_idempotency_keys[99cc-idle] succeeded in 0.02s: 0")
traced.warning("Task grader.tasks.requeue_stale_submissions[1b2d-BUSY-SWEEP] succeeded in 0.2s: 3")
traced.warning("Task grader.tasks.requeue_stale_submissions[9e9e-FAILED-SWEEP] raised unexpected: OperationalError()")
received.warning("Task grader.tasks.grade_submission[5c5c-GRADING] received")
traced.warning("Task grader.tasks.grade_submission[5c5c-GRADING] succeeded in 0.2s: 0")
"""


def _stderr(broker_url: str, tmp_path: Path) -> str:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "grader.settings",
        "CELERY_BROKER_URL": broker_url,
        "GRADER_VAR_DIR": str(tmp_path),
        "PYTHONWARNINGS": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", EMIT], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_the_known_harmless_lines_are_dropped_and_their_neighbours_kept(tmp_path):
    stderr = _stderr("filesystem://", tmp_path)
    assert "Exporting aten::index" not in stderr
    assert "pre-processing before quantization" not in stderr
    assert "No hostname was supplied" not in stderr
    # The same words from another module, and other lines of the same sources, still show.
    assert stderr.count("Converting a tensor to a Python boolean") == 1
    assert "mypackage" in stderr
    for kept in ("UNRELATED-WARNING", "UNRELATED-ROOT-WARNING", "UNRELATED-KOMBU-WARNING"):
        assert kept in stderr
    # The minute's housekeeping that found nothing to do is dropped; a sweep that did something, a failed one and
    # every grading task still show.
    assert "-idle]" not in stderr
    assert "BUSY-SWEEP" in stderr and "FAILED-SWEEP" in stderr
    assert stderr.count("5c5c-GRADING") == 2


@pytest.mark.parametrize("broker_url", ["redis://", "redis://127.0.0.1:6379/0"])
def test_a_real_broker_keeps_kombus_warning_and_the_housekeeping_lines(tmp_path, broker_url):
    stderr = _stderr(broker_url, tmp_path)
    assert "No hostname was supplied" in stderr
    assert "-idle]" in stderr  # a deployment's workers log every task; only `make run`'s terminal is trimmed
