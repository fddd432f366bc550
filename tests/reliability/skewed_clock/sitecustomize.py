"""Started with this folder on PYTHONPATH, a process reads Django's clock GRADER_TEST_CLOCK_OFFSET_SECONDS off.

A machine whose clock is wrong, for the fault tests, without changing the clock of the machine that runs them
(which needs root and moves every other process's clock too). Python imports ``sitecustomize`` at start-up.
"""

import os
from datetime import timedelta

from django.utils import timezone

_offset = timedelta(seconds=float(os.environ.get("GRADER_TEST_CLOCK_OFFSET_SECONDS", "0")))
_true_now = timezone.now
timezone.now = lambda: _true_now() + _offset
