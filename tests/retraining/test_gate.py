"""The quality gate, with the real model on real (small) data: teachers' corrections of the demo course."""

from __future__ import annotations

import pytest

from grader.models import ModelVersion, Submission, TrainingRun
from grader.services import model_versions
from grader.services.grading_models import model_for_active_version
from grader.services.model_artifacts import model_version_local_path
from grader.services.model_versions import model_retrain
from grader.services.submissions import submission_create, submission_grade
from tests.retraining.conftest import UNCORRECTED_ANSWERS, grades_snapshot
from training.dataset import Pair
from training.finetune import directory_sha256

pytestmark = pytest.mark.django_db


def test_corrections_train_a_version_that_beats_its_parent_on_held_out_data_and_becomes_active(
    corrected_course, base_model_version, fast_training
):
    before = grades_snapshot()

    run = model_retrain(trigger="test")

    version = run.produced_version
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert version.status == ModelVersion.Status.ACTIVE
    assert version.parent == base_model_version
    base_model_version.refresh_from_db()
    assert base_model_version.status == ModelVersion.Status.RETIRED
    # Held-out agreement of both, on the same pairs, and the numbers that decided.
    candidate, parent = version.evaluation["candidate"], version.evaluation["replaced"]
    assert candidate["n"] == parent["n"] == run.held_out_size > 0
    assert candidate["cosine_pearson"] > parent["cosine_pearson"] + fast_training.GRADER_PROMOTION_MARGIN
    assert {"pearson", "spearman", "mae", "qwk"} <= candidate.keys()
    assert version.evaluation["gate"]["promote"] is True
    assert run.reason.startswith("Promoted: held-out cosine_pearson")
    # Held-out pairs are not trained on; the split is recorded on the run.
    assert run.train_size + run.held_out_size == run.dataset_size
    assert run.dataset_size > 92  # the seed pairs plus the teacher's corrections against other references
    # Progress reached the last step; the card is sentence-transformers' own, with the real numbers.
    assert run.progress["step"] == run.progress["max_steps"] > 0
    assert f"dataset_size:{run.train_size}" in version.model_card
    # The artifact is in the store under the version's name, and its files hash to what was recorded.
    assert directory_sha256(model_version_local_path(version=version)) == version.sha256
    # The dry run re-scored the graded, uncorrected submissions before the promotion.
    assert version.dry_run["sampled"] == version.dry_run["total_uncorrected"] == len(UNCORRECTED_ANSWERS)
    # Default regrading policy: existing grades stay as they were (new submissions only).
    assert grades_snapshot() == before
    # The next submission is graded by the new version without a restart; old grades keep their version.
    active, _ = model_for_active_version()
    assert active == version
    question = corrected_course.questions.get(key="gradient-descent")
    submission, _ = submission_create(question=question, student_ref="new", answer="It minimises the loss.")
    submission_grade(submission_id=submission.pk)
    assert Submission.objects.get(pk=submission.pk).model_version == version
    assert Submission.objects.filter(model_version=base_model_version).count() == len(before)

    # Nothing new since: the next request is skipped, with the reason recorded.
    again = model_retrain(trigger="test")
    assert again.status == TrainingRun.Status.SKIPPED
    assert f"Nothing new since training run {run.pk}" in again.reason
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == version


def test_a_candidate_trained_on_corrupted_labels_is_rejected_and_the_active_version_stays(
    corrected_course, base_model_version, fast_training, monkeypatch
):
    real_fine_tune = model_versions.fine_tune

    def fine_tune_on_inverted_labels(*, pairs, **kwargs):
        # Inverted, not merely shuffled: one epoch on shuffled labels still raised held-out Pearson on this data
        # (0.276 -> 0.355, about as much as the real labels), so it does not make a worse model here.
        inverted = [Pair(p.sentence_0, p.sentence_1, 1.0 - p.label) for p in pairs]
        return real_fine_tune(pairs=inverted, **kwargs)

    monkeypatch.setattr(model_versions, "fine_tune", fine_tune_on_inverted_labels)
    before = grades_snapshot()

    run = model_retrain(trigger="test")

    version = run.produced_version
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert version.status == ModelVersion.Status.REJECTED
    gate = version.evaluation["gate"]
    assert gate["promote"] is False
    assert gate["improvement"] < fast_training.GRADER_PROMOTION_MARGIN
    assert gate["candidate"] == version.evaluation["candidate"]["cosine_pearson"]
    assert gate["replaced"] == version.evaluation["replaced"]["cosine_pearson"]
    assert run.reason.startswith("Rejected: held-out cosine_pearson")
    assert version.dry_run == {}  # no promotion, no dry run
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version
    assert grades_snapshot() == before
