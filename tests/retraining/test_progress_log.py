"""A training run logs its progress, so a terminal (make run's first model) shows it moving rather than silence."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

from grader.services.training_runs import ProgressRecorder


def test_progress_is_logged_at_the_first_step_every_five_percent_and_when_fine_tuning_ends(db, caplog):
    recorder = ProgressRecorder(run=SimpleNamespace(pk=7))
    with caplog.at_level(logging.INFO, logger="grader.services.training_runs"):
        for step in range(1, 201):
            recorder({"step": step, "max_steps": 200, "loss": 0.5 / step, "eta_seconds": float(200 - step)})
        # The trainer's summary comes as one more event for the last step (the run's mean loss).
        recorder({"step": 200, "max_steps": 200, "loss": 0.1, "eta_seconds": 0.0})
    messages = [record.getMessage() for record in caplog.records]
    percents = [int(match.group(1)) for message in messages if (match := re.search(r"\((\d+)%\)", message))]
    assert percents == list(range(0, 101, 5))  # the first step at once: how many steps there are
    assert "step 10/200 (5%), loss 0.0500, about 190 s left" in messages[1]
    assert "s left" not in messages[-2]  # the last step has nothing left
    assert "fine-tuning done" in messages[-1]
    assert sum("fine-tuning done" in message for message in messages) == 1


def test_a_short_run_logs_every_step_it_has(db, caplog):
    recorder = ProgressRecorder(run=SimpleNamespace(pk=7))
    with caplog.at_level(logging.INFO, logger="grader.services.training_runs"):
        for step in range(1, 4):
            recorder({"step": step, "max_steps": 3, "loss": None, "eta_seconds": None})
    steps = [record.getMessage() for record in caplog.records if "step " in record.getMessage()]
    assert [message.split(": ", 1)[1] for message in steps] == ["step 1/3 (33%)", "step 2/3 (66%)", "step 3/3 (100%)"]
