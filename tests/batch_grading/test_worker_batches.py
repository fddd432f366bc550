"""A real worker on Redis: a burst of submissions is graded in one batch; the other messages find nothing to do."""

from __future__ import annotations

import os

import pytest
import redis
from django.db import transaction

from grader.models import Submission
from grader.services.submissions import submission_create
from tests.batch_grading.conftest import ANSWERS
from tests.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_burst_is_graded_once_in_one_batch_by_a_real_worker(celery_worker_process, base_model_version, demo_course):
    questions = list(demo_course.questions.order_by("key")[:3])
    # One transaction: every row is committed before the first message leaves, so the first task sees them all.
    with transaction.atomic():
        ids = [
            submission_create(
                question=questions[index % 3], student_ref=f"s{index}", answer=ANSWERS[index % len(ANSWERS)]
            )[0].pk
            for index in range(12)
        ]

    graded = Submission.objects.filter(pk__in=ids, status=Submission.Status.GRADED)
    wait_until(lambda: graded.count() == 12, timeout=120)
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    wait_until(lambda: broker.llen("grading") == 0 and broker.hlen("unacked") == 0, timeout=60)

    rows = list(graded.select_related("best_reference"))
    assert {row.grading_attempts for row in rows} == {1}
    assert len({row.graded_at for row in rows}) == 1
    assert all(row.best_reference.question_id == row.question_id for row in rows)
