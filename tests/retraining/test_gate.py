"""The quality gate, with the real model on real (small) data: teachers' corrections of the demo course."""

from __future__ import annotations

from dataclasses import replace

import pytest
from django.conf import settings

from grader.models import ModelVersion, Submission, TrainingRun
from grader.services import model_versions
from grader.services.grading_models import model_for_active_version
from grader.services.model_artifacts import model_version_local_path
from grader.services.model_versions import (
    correction_pairs,
    corrections_trained_on,
    held_out_corrections,
    hyperparameters_from_settings,
    model_retrain,
    model_retrain_dataset,
    model_version_activate,
)
from grader.services.submissions import submission_create, submission_grade
from tests.retraining.conftest import UNCORRECTED_ANSWERS, grades_snapshot
from training.dataset import Pair, split_held_out
from training.evaluate import held_out_grades
from training.finetune import directory_sha256

pytestmark = [pytest.mark.django_db, pytest.mark.finetune]  # fine-tunes a model: the full lane only


def _held_out() -> tuple[list[Pair], list[Pair]]:
    """The held-out pairs the gate judges on (the teacher-corrected ones), and the corrections trained on."""
    split = split_held_out(
        model_retrain_dataset(),
        question_fraction=settings.GRADER_HELD_OUT_QUESTION_FRACTION,
        answer_fraction=settings.GRADER_HELD_OUT_ANSWER_FRACTION,
        seed=settings.GRADER_HELD_OUT_SEED,
    )
    corrections = correction_pairs()
    return (
        held_out_corrections(held_out=split.held_out, corrections=corrections),
        corrections_trained_on(train=split.train, corrections=corrections),
    )


def test_a_retrain_whose_held_out_grades_are_not_reliably_better_is_rejected(
    corrected_course, base_model_version, fast_training
):
    """One epoch on the demo course's corrections: the gate grades both versions as the workers do and finds
    the gain within chance, so the active version stays."""
    before = grades_snapshot()

    run = model_retrain(trigger="test")

    version = run.produced_version
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert version.status == ModelVersion.Status.REJECTED
    gate = version.evaluation["gate"]
    assert gate["promote"] is False
    assert gate["primary"] == "rmse"
    assert gate["intervals"]["rmse"]["low"] <= 0
    judged = version.evaluation["held_out_size"]
    assert gate["candidate"]["n"] == gate["replaced"]["n"] == judged >= settings.GRADER_PROMOTION_MIN_ANSWERS
    assert run.held_out_size >= judged  # held-out seed pairs are not trained on, nor judged on
    assert {"rmse", "pearson", "pass_fail_accuracy"} <= gate["candidate"].keys()
    assert run.reason == gate["reason"]
    assert run.reason.startswith(f"Not activated: on {judged} answers teachers corrected and it never saw")
    # The gate's grades of the active version are the workers' grades of the same held-out answers.
    _, deployed = model_for_active_version()
    held_out, trained_on = _held_out()
    assert trained_on  # held-out answers of corrected questions are graded with the feedback stage, as workers do
    assert version.evaluation["held_out_grades"]["replaced"] == [
        float(score.points) for score in held_out_grades(pairs=held_out, model=deployed, corrections=trained_on)
    ]
    assert version.evaluation["held_out_grades"]["human"] == [pair.label * pair.max_points for pair in held_out]
    # The adversarial benchmark's dev half was graded by both.
    adversarial = gate["adversarial"]
    assert adversarial["n"] > 0
    assert 0 <= adversarial["candidate"] <= 1 and 0 <= adversarial["replaced"] <= 1
    # Rejected or not, the dry run re-scored the uncorrected grades (storing none), and the page's comparison is
    # stored: both versions' metrics as the gate computed them, corrections learned from, the dry run's diff.
    assert version.dry_run["sampled"] == len(UNCORRECTED_ANSWERS)
    comparison = version.evaluation["comparison"]
    assert comparison["reason"] == run.reason and comparison["activated"] is False
    assert (comparison["candidate"]["version"], comparison["replaced"]["version"]) == (version.name, "base")
    assert comparison["candidate"]["rmse"]["value"] == gate["candidate"]["rmse"]
    assert comparison["replaced"]["pearson"]["value"] == gate["replaced"]["pearson"]
    assert comparison["candidate"]["corrections_learned_from"] == version.metrics["corrections_trained_on"] > 0
    assert comparison["dry_run"]["sampled"] == len(UNCORRECTED_ANSWERS)
    assert {"crossing_pass_mark", "mean_abs_change", "examples"} <= comparison["dry_run"].keys()
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version
    assert grades_snapshot() == before


def test_a_corrupted_candidate_is_rejected_and_a_retrain_that_really_beats_it_is_promoted(
    corrected_course, base_model_version, fast_training, monkeypatch
):
    real_fine_tune = model_versions.fine_tune

    def fine_tune_on_inverted_labels(*, pairs, **kwargs):
        inverted = [Pair(p.sentence_0, p.sentence_1, 1.0 - p.label) for p in pairs]
        return real_fine_tune(pairs=inverted, **kwargs)

    monkeypatch.setattr(model_versions, "fine_tune", fine_tune_on_inverted_labels)
    before = grades_snapshot()

    corrupted_run = model_retrain(trigger="test")

    corrupted = corrupted_run.produced_version
    assert corrupted.status == ModelVersion.Status.REJECTED
    assert corrupted.evaluation["gate"]["promote"] is False
    assert corrupted_run.reason.startswith("Not activated")
    assert corrupted.dry_run["sampled"] == len(UNCORRECTED_ANSWERS)  # what it would have changed, not changed
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version
    assert grades_snapshot() == before

    # An operator activates the corrupted version by hand; a retrain on the real corrections must beat it.
    monkeypatch.setattr(model_versions, "fine_tune", real_fine_tune)
    model_version_activate(version=corrupted)

    # Same data as the run that produced the corrupted version, three epochs: the corrupted version grades held-out
    # answers of corrected questions with those corrections (the feedback stage), so a real improvement must come
    # from undoing the corruption, which one epoch does not do reliably.
    recovery = replace(hyperparameters_from_settings(), epochs=3)
    run = model_retrain(trigger="test", force=True, hyperparameters=recovery)

    version = run.produced_version
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert version.status == ModelVersion.Status.ACTIVE, run.reason
    assert version.parent == corrupted
    corrupted.refresh_from_db()
    assert corrupted.status == ModelVersion.Status.RETIRED
    gate = version.evaluation["gate"]
    assert gate["promote"] is True
    assert gate["intervals"]["rmse"]["low"] > 0
    assert gate["candidate"]["rmse"] < gate["replaced"]["rmse"]
    assert run.reason.startswith(
        f"Activated: on {version.evaluation['held_out_size']} answers teachers corrected and it never saw"
    )
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
    again = model_retrain(trigger="test", hyperparameters=recovery)
    assert again.status == TrainingRun.Status.SKIPPED
    assert f"Nothing new since training run {run.pk}" in again.reason
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == version
