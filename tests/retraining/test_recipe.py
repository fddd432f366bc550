"""A training recipe other than the default: what the retrain starts from and trains on, judged like the default."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from grader.models import TrainingRun
from grader.scoring.model import base_model_path
from grader.services import model_versions
from grader.services.model_versions import correction_pairs, held_out_corrections, model_retrain, model_retrain_dataset
from training.dataset import TrainingRecipe, split_held_out

pytestmark = [pytest.mark.django_db, pytest.mark.finetune]  # fine-tunes a model: the full lane only


def test_a_retrain_from_the_base_model_with_cross_question_pairs_is_judged_on_the_same_held_out_answers(
    corrected_course, base_model_version, fast_training, monkeypatch
):
    started_from: list[Path] = []
    fine_tune = model_versions.fine_tune

    def recording_fine_tune(**kwargs):
        started_from.append(Path(kwargs["base_model_dir"]))
        return fine_tune(**kwargs)

    monkeypatch.setattr(model_versions, "fine_tune", recording_fine_tune)
    split = split_held_out(
        model_retrain_dataset(),
        question_fraction=settings.GRADER_HELD_OUT_QUESTION_FRACTION,
        answer_fraction=settings.GRADER_HELD_OUT_ANSWER_FRACTION,
        seed=settings.GRADER_HELD_OUT_SEED,
    )
    recipe = TrainingRecipe(start="base", cross_question_pairs=True)

    run = model_retrain(recipe=recipe, trigger="test")

    assert run.status == TrainingRun.Status.SUCCEEDED
    assert started_from == [base_model_path()]  # the packaged model, not the active version's copy
    assert run.hyperparameters["recipe"] == recipe.as_dict()
    assert run.train_size > len(split.train)  # the cross-question pairs, built from the training side
    version = run.produced_version
    # Compared with, and replacing, the active version; on exactly the held-out answers the default would use.
    assert version.parent == base_model_version
    assert version.evaluation["replaced_version"] == "base"
    judged = held_out_corrections(held_out=split.held_out, corrections=correction_pairs())
    assert version.evaluation["held_out_size"] == len(judged) > 0
