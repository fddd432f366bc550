"""Fixtures for batch grading: queued submissions spread over several questions of the demo course."""

from __future__ import annotations

import pytest

from grader.models import Course, Submission
from grader.scoring.model import forget_remembered_texts

ANSWERS = [
    "It moves the parameters a little at a time in the direction that makes the loss smaller.",
    "The model memorises its training data and then does badly on new data.",
    "A penalty on large weights that keeps the model simple so it generalises.",
    "The French revolution began in 1789.",
    "You split the data, train on one part and check the error on the other part.",
    "It is when the model is too simple to capture the pattern in the data.",
]


@pytest.fixture(autouse=True)
def _fresh_reference_memory():
    """The in-process reference cache outlives a test's database; start every test without it."""
    forget_remembered_texts()
    yield
    forget_remembered_texts()


def queue_submissions(course: Course, count: int, *, questions: int = 3) -> list[Submission]:
    """``count`` queued submissions, round-robin over the course's first ``questions`` questions.

    Rows are created directly (not through submission_create) so no message is enqueued: the tests call the
    grading service themselves, as a worker would.
    """
    chosen = list(course.questions.order_by("key")[:questions])
    return Submission.objects.bulk_create(
        Submission(
            question=chosen[index % len(chosen)],
            student_ref=f"student-{index}",
            answer=ANSWERS[index % len(ANSWERS)],
        )
        for index in range(count)
    )
