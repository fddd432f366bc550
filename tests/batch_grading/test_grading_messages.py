"""How many grading messages go out: one per batch of a bulk upload, one shared by single POSTs while it waits."""

from __future__ import annotations

from grader import dispatch
from grader.models import Submission
from grader.services import submissions as submission_services
from tests.batch_grading.conftest import queue_submissions


def test_a_bulk_upload_sends_one_grading_message_per_batch(
    base_model_version, demo_course, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.GRADER_GRADING_BATCH_SIZE = 4
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_grading", sent.append)
    question = demo_course.questions.order_by("key").first()
    items = [{"question": question, "student_ref": f"s{n}", "answer": f"answer {n}"} for n in range(10)]

    with django_capture_on_commit_callbacks(execute=True):
        results = submission_services.submissions_create_many(integration=None, items=items)

    ids = [submission.pk for submission, created in results if created]
    assert len(ids) == 10
    assert sent == [ids[0], ids[4], ids[8]]


def test_a_grading_task_keeps_claiming_while_its_batches_come_back_full(
    base_model_version, demo_course, settings, monkeypatch
):
    settings.GRADER_GRADING_BATCH_SIZE = 3
    settings.GRADER_GRADING_DRAIN_BATCHES = 3
    queued = queue_submissions(demo_course, 11)

    # Three full batches of 3, then the drain stops, and hands the rest to a new message: single POSTs behind
    # them may have sent none of their own (_enqueue_grading_once).
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_grading", sent.append)
    assert submission_services.submissions_grade_queued(submission_id=queued[0].pk) == 9
    assert Submission.objects.filter(status=Submission.Status.QUEUED).count() == 2
    assert sent == [queued[9].pk]
    # A batch that is not full ends the drain at once, with nothing left to hand on.
    assert submission_services.submissions_grade_queued(submission_id=queued[9].pk) == 2
    assert not Submission.objects.filter(status=Submission.Status.QUEUED).exists()
    assert sent == [queued[9].pk]


def post_single(question, number: int, capture) -> int:
    with capture(execute=True):
        submission, _ = submission_services.submission_create(
            question=question, student_ref=f"s{number}", answer=f"answer {number}"
        )
    return submission.pk


def test_single_posts_share_one_grading_message_until_a_task_takes_it(
    redis_cache, demo_course, monkeypatch, django_capture_on_commit_callbacks
):
    """While a message waits for a worker, the next POSTs send none: its task will claim their rows too. Once a
    task is about to claim, the next POST sends its own (its row may commit after that claim's query)."""
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_grading", lambda pk: sent.append(pk) or True)
    question = demo_course.questions.order_by("key").first()
    first = [post_single(question, n, django_capture_on_commit_callbacks) for n in range(3)]
    assert sent == [first[0]]
    submission_services._grading_message_taken()  # what a task does before each claim
    after = post_single(question, 3, django_capture_on_commit_callbacks)
    assert sent == [first[0], after]


def test_a_message_that_failed_to_publish_does_not_hold_back_the_next_post(
    redis_cache, demo_course, monkeypatch, django_capture_on_commit_callbacks
):
    outcomes = iter([False, True])  # the broker refuses the first publish, then is back
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_grading", lambda pk: sent.append(pk) or next(outcomes))
    question = demo_course.questions.order_by("key").first()
    ids = [post_single(question, n, django_capture_on_commit_callbacks) for n in range(2)]
    assert sent == ids


def test_without_a_shared_cache_every_single_post_sends_its_message(
    demo_course, monkeypatch, django_capture_on_commit_callbacks
):
    # locmem (the embedded default, and these tests): a worker's delete could not reach the web processes.
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_grading", lambda pk: sent.append(pk) or True)
    question = demo_course.questions.order_by("key").first()
    ids = [post_single(question, n, django_capture_on_commit_callbacks) for n in range(3)]
    assert sent == ids
