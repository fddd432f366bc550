"""A grading worker loads the active model as it starts, so the first answer does not wait for the load."""

import pytest

from tests.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def test_a_grading_worker_loads_the_active_model_before_any_answer_arrives(
    launcher, shared_broker_url, base_model_version
):
    webhooks_worker = launcher.worker(shared_broker_url, queues="webhooks")
    grading_worker = launcher.worker(shared_broker_url, queues="grading")
    loaded = f"loading model version {base_model_version.pk} from"
    # No submission exists and no beat runs: only the warm-up can load it.
    wait_until(lambda: loaded in grading_worker.log(), timeout=120)
    # Started first, so its warm-up would have run by now: a worker that never grades keeps its memory.
    assert "loading model version" not in webhooks_worker.log()
    assert "was not loaded ahead" not in grading_worker.log()
