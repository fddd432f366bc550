"""One task grades many submissions in one encode call: each exactly once, each against its own question, under
claims that two workers never share."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from grader.models import Submission
from grader.services import submissions as submission_services
from grader.services.grading_models import model_for_active_version
from grader.services.submissions import submission_grade, submissions_grade_batch
from tests.batch_grading.conftest import queue_submissions
from tests.grading import grade_answers


def test_a_batch_grades_every_submission_once_against_its_own_questions_references(base_model_version, demo_course):
    queued = queue_submissions(demo_course, 12, questions=3)

    batch = submissions_grade_batch(submission_id=queued[5].pk, limit=32)

    assert batch.claimed[0] == queued[5].pk
    assert sorted(batch.claimed) == sorted(batch.recorded) == sorted(s.pk for s in queued)
    _, encoder = model_for_active_version()
    for submission in Submission.objects.filter(pk__in=batch.recorded).select_related("question", "best_reference"):
        assert submission.status == Submission.Status.GRADED
        assert submission.grading_attempts == 1
        assert submission.model_version == base_model_version
        assert submission.best_reference.question_id == submission.question_id
        # Graded alone, the same answer gets the same grade: the batch mixed nothing across questions.
        [alone] = grade_answers(
            model=encoder, version=base_model_version, question=submission.question, answers=[submission.answer]
        )
        assert submission.similarity == pytest.approx(alone.similarity, abs=1e-4)
        assert submission.points == alone.points
        assert submission.best_reference_id == alone.best_reference_id


def test_a_batch_takes_its_own_submission_first_and_at_most_the_limit(base_model_version, demo_course):
    queued = queue_submissions(demo_course, 5)

    batch = submissions_grade_batch(submission_id=queued[-1].pk, limit=3)

    assert batch.claimed == (queued[-1].pk, queued[0].pk, queued[1].pk)
    assert Submission.objects.filter(status=Submission.Status.QUEUED).count() == 2


def test_duplicate_deliveries_record_nothing_twice(base_model_version, demo_course):
    queued = queue_submissions(demo_course, 4)
    submissions_grade_batch(submission_id=queued[0].pk, limit=32)
    before = {row.pk: (row.graded_at, row.grading_attempts, row.points) for row in Submission.objects.all()}

    # The other submissions' own messages arrive after the batch took them, and a message is delivered twice.
    for submission in [*queued, queued[0]]:
        assert submissions_grade_batch(submission_id=submission.pk, limit=32).claimed == ()
        assert submission_grade(submission_id=submission.pk) is False

    after = {row.pk: (row.graded_at, row.grading_attempts, row.points) for row in Submission.objects.all()}
    assert after == before


def test_single_submission_service_grades_only_its_submission(base_model_version, demo_course):
    first, second = queue_submissions(demo_course, 2)

    assert submission_grade(submission_id=second.pk) is True

    assert Submission.objects.get(pk=second.pk).status == Submission.Status.GRADED
    assert Submission.objects.get(pk=first.pk).status == Submission.Status.QUEUED


def test_a_live_claim_is_left_alone_and_a_lapsed_one_is_taken_over(base_model_version, demo_course):
    live, lapsed = queue_submissions(demo_course, 2)
    now = timezone.now()
    Submission.objects.filter(pk=live.pk).update(status=Submission.Status.GRADING, grading_started_at=now)
    Submission.objects.filter(pk=lapsed.pk).update(
        status=Submission.Status.GRADING,
        grading_started_at=now - submission_services.grading_lease() - timedelta(seconds=1),
        grading_attempts=1,
    )

    batch = submissions_grade_batch(submission_id=live.pk, limit=32)

    assert batch.recorded == (lapsed.pk,)
    assert Submission.objects.get(pk=live.pk).status == Submission.Status.GRADING
    assert Submission.objects.get(pk=lapsed.pk).grading_attempts == 2


def test_a_worker_whose_claim_was_taken_over_writes_nothing(base_model_version, demo_course, monkeypatch):
    queued = queue_submissions(demo_course, 3)
    taken_over = queued[1]
    real_score = submission_services.grade_batch

    def score_while_another_worker_takes_over(**kwargs):
        # As if this worker stalled past its lease and another one claimed the row meanwhile.
        Submission.objects.filter(pk=taken_over.pk).update(grading_claim="another-workers-claim")
        return real_score(**kwargs)

    monkeypatch.setattr(submission_services, "grade_batch", score_while_another_worker_takes_over)

    batch = submissions_grade_batch(submission_id=queued[0].pk, limit=32)

    assert taken_over.pk in batch.claimed and taken_over.pk not in batch.recorded
    assert sorted(batch.recorded) == [queued[0].pk, queued[2].pk]
    row = Submission.objects.get(pk=taken_over.pk)
    assert row.status == Submission.Status.GRADING and row.similarity is None


def test_a_failed_batch_hands_its_claims_back_for_the_retry(base_model_version, demo_course, monkeypatch):
    queued = queue_submissions(demo_course, 4)

    def broken(**kwargs):
        raise RuntimeError("encoder crashed")

    monkeypatch.setattr(submission_services, "grade_batch", broken)
    with pytest.raises(RuntimeError):
        submissions_grade_batch(submission_id=queued[0].pk, limit=32)
    assert set(Submission.objects.values_list("status", flat=True)) == {Submission.Status.QUEUED}

    monkeypatch.undo()
    assert len(submissions_grade_batch(submission_id=queued[0].pk, limit=32).recorded) == 4


def test_a_question_without_references_fails_its_submissions_and_not_the_batch(base_model_version, demo_course):
    orphan_question_submission, fine = queue_submissions(demo_course, 2, questions=2)
    orphan_question_submission.question.reference_answers.all().delete()

    batch = submissions_grade_batch(submission_id=orphan_question_submission.pk, limit=32)

    assert batch.recorded == (fine.pk,)
    orphan = Submission.objects.get(pk=orphan_question_submission.pk)
    assert orphan.status == Submission.Status.FAILED and "reference" in orphan.error


# A question's context (grader.scoring.context) reads its corrections and its class's answers, and the new answers
# are stored after the batch: at most three queries per question in the batch, none per answer.
REVIEW_QUERIES_PER_QUESTION = 3


@pytest.mark.parametrize("count", [3, 30])
def test_grading_a_batch_takes_the_same_few_queries_however_large(
    base_model_version, demo_course, count, django_assert_max_num_queries
):
    queue_submissions(demo_course, 40, questions=5)
    warm = Submission.objects.order_by("pk").first()
    submissions_grade_batch(submission_id=warm.pk, limit=5)  # loads the model, stores the reference embeddings
    first = Submission.objects.filter(status=Submission.Status.QUEUED).order_by("pk").first()

    # active version; claim (select own, select others, update); load (submissions + questions, references);
    # write (lock, update); the savepoints of two atomic blocks.
    # +1: does any webhook endpoint listen? The batch spans min(count, 5) questions.
    with django_assert_max_num_queries(13 + REVIEW_QUERIES_PER_QUESTION * min(count, 5)):
        batch = submissions_grade_batch(submission_id=first.pk, limit=count)

    assert len(batch.recorded) == count


def test_reference_embeddings_for_a_cold_batch_are_read_and_written_in_one_query_each(
    base_model_version, demo_course, django_assert_max_num_queries
):
    queued = queue_submissions(demo_course, 10, questions=5)
    model_for_active_version()  # the model load is not what this counts

    # A warm batch's queries (the test above), plus one read and one write of reference embeddings.
    with django_assert_max_num_queries(15 + REVIEW_QUERIES_PER_QUESTION * 5):
        batch = submissions_grade_batch(submission_id=queued[0].pk, limit=32)

    assert len(batch.recorded) == 10
    assert base_model_version.reference_embeddings.count() == sum(
        question.reference_answers.count() for question in demo_course.questions.order_by("key")[:5]
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_take_the_same_submission(base_model_version, demo_course):
    queued = queue_submissions(demo_course, 20)
    barrier = threading.Barrier(2)
    claims: list[list[int]] = []

    def claim() -> None:
        try:
            barrier.wait(timeout=10)
            claims.append(
                submission_services._submissions_claim(
                    submission_id=queued[0].pk,
                    limit=12,
                    claim=uuid.uuid4().hex,
                    delivery=submission_services.GradingDelivery(),
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    first, second = claims
    assert not set(first) & set(second)
    assert len(first) + len(second) == 20
    assert Submission.objects.filter(status=Submission.Status.GRADING, grading_attempts=1).count() == 20
