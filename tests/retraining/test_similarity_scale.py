"""A trained version's similarities on the base model's scale: fitted at training time, applied by grading."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from grader.models import Question
from grader.scoring.model import GradingModel, base_model_path, load_model
from grader.scoring.similarity_scale import SCALE_FILE, SimilarityScale
from grader.services.model_versions import artifact_dir
from grader.services.similarity_scales import similarity_scale_write
from tests.grading import grade_items
from tests.retraining.conftest import UNCORRECTED_ANSWERS

pytestmark = [pytest.mark.django_db, pytest.mark.finetune]  # fine-tunes a model: the full lane only


def test_the_map_is_fitted_on_uncorrected_answers_and_saved_with_the_model(corrected_course, settings, tmp_path):
    model_dir = tmp_path / "candidate"
    shutil.copytree(base_model_path(), model_dir)  # the base model itself: the map must be the identity
    settings.GRADER_SIMILARITY_SCALE_MIN_ANSWERS = 3

    scale = similarity_scale_write(model_dir=model_dir)

    assert scale is not None and scale.answers == len(UNCORRECTED_ANSWERS)  # corrected answers were trained on
    loaded = SimilarityScale.load(model_dir)
    assert loaded.to_dict() == scale.to_dict()
    for value in np.linspace(0.1, 0.6, 6):
        assert loaded.value(0, float(value)) == pytest.approx(value, abs=1e-5)


def test_too_few_uncorrected_answers_write_no_map(corrected_course, tmp_path):
    shutil.copytree(base_model_path(), tmp_path / "candidate")
    assert similarity_scale_write(model_dir=tmp_path / "candidate") is None  # 4 answers, 50 needed by default
    assert not (tmp_path / "candidate" / SCALE_FILE).exists()


def test_grading_reads_similarities_through_the_versions_map(base_model_version, gradient_descent_question):
    encoder = load_model(path=artifact_dir(base_model_version), version_id=base_model_version.pk)
    question = Question.objects.prefetch_related("reference_answers").get(pk=gradient_descent_question.pk)
    answer = question.reference_answers.first().text
    plain = grade_items(model=encoder, version=base_model_version, items=[(question, answer)])[0]
    # A map that squeezes every similarity below the ramp's zero-credit point must take the credit away.
    squeezing = SimilarityScale(
        {
            name: (np.array([-1.0, 1.0]), np.array([-1.0, 0.1]))
            for name in ("similarity", "question_similarity", "consensus")
        }
    )
    squeezed_model = GradingModel(
        version_id=encoder.version_id, path=encoder.path, runtime=encoder.runtime, scale=squeezing
    )
    squeezed = grade_items(model=squeezed_model, version=base_model_version, items=[(question, answer)])[0]
    assert plain.points == question.max_points
    assert squeezed.points == 0


def test_a_retrained_version_carries_its_map_and_grading_loads_it(corrected_course, fast_training):
    from grader.services.grading_models import model_for_active_version
    from grader.services.model_versions import model_retrain, model_version_activate

    fast_training.GRADER_SIMILARITY_SCALE_MIN_ANSWERS = 3
    run = model_retrain(trigger="test")

    version = run.produced_version
    assert (artifact_dir(version) / SCALE_FILE).exists()  # stored, and covered by the version's sha256
    assert f"similarity scale fitted on {len(UNCORRECTED_ANSWERS)} uncorrected answers" in run.log
    # Whether the gate promotes it or not: once active (here by hand), grading loads it with its map.
    model_version_activate(version=version)
    active, encoder = model_for_active_version()
    assert active == version and encoder.scale is not None and encoder.scale.answers == len(UNCORRECTED_ANSWERS)


def test_the_promotion_gate_scores_each_model_through_its_own_map(tmp_path):
    """Same weights on both sides; only the candidate's map differs. The gate must see the points it would give."""
    from grader.services.model_versions import _evaluate
    from training.dataset import Pair

    candidate_dir = tmp_path / "candidate"
    shutil.copytree(base_model_path(), candidate_dir)
    squeezing = SimilarityScale(
        {
            name: (np.array([-1.0, 1.0]), np.array([-1.0, 0.1]))
            for name in ("similarity", "question_similarity", "consensus")
        }
    )
    squeezing.save(candidate_dir)
    reference = "Gradient descent repeatedly steps against the gradient to reduce the loss."
    held_out = [
        Pair(reference, reference, 1.0, question="q"),
        Pair("It takes small steps downhill along the negative gradient of the loss.", reference, 0.8, question="q"),
        Pair("A sorting algorithm for linked lists.", reference, 0.0, question="q"),
    ]

    evaluation = _evaluate(
        candidate_dir=candidate_dir, base=None, base_dir=base_model_path(), judged=held_out, held_out=len(held_out)
    )

    candidate, replaced = evaluation["candidate"], evaluation["replaced"]
    assert candidate["cosine_pearson"] == pytest.approx(replaced["cosine_pearson"])  # the map does not touch cosines
    assert candidate["rmse"] > replaced["rmse"] + 1  # squeezed to no credit at all: the full answers lose 4-5 points
