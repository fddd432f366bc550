"""training/: datasets, metrics and the first model version, with the real model."""

import csv
from pathlib import Path

import pytest

from grader.models import ModelVersion, TrainingRun
from grader.services.model_versions import artifact_dir, model_version_bootstrap
from training.dataset import Pair, build_training_set, dataset_sha256, load_pairs_csv
from training.finetune import resolve_precision
from training.metrics import agreement

pytestmark = pytest.mark.finetune  # fine-tunes a model: the full lane only

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_seed_pairs_are_valid_and_written_for_the_demo_course():
    pairs = load_pairs_csv(FIXTURES / "seed_pairs.csv")
    assert len(pairs) >= 47
    assert all(0.0 <= pair.label <= 1.0 for pair in pairs)
    with open(FIXTURES / "seed_pairs.csv", newline="", encoding="utf-8") as handle:
        assert csv.DictReader(handle).fieldnames == ["sentence_0", "sentence_1", "label"]


def test_training_set_is_deterministic_and_teacher_labels_win_over_seed_labels():
    seed = [Pair("a", "ref", 0.2), Pair("b", "ref", 0.9)]
    corrections = [Pair("a", "ref", 1.0), Pair("c", "ref", 0.0)]
    first = build_training_set(corrections=corrections, seed_pairs=seed)
    second = build_training_set(corrections=list(reversed(corrections)), seed_pairs=list(reversed(seed)))
    assert first == second
    assert dataset_sha256(first) == dataset_sha256(second)
    assert {pair.sentence_0: pair.label for pair in first} == {"a": 1.0, "b": 0.9, "c": 0.0}


def test_labels_outside_zero_one_are_refused():
    with pytest.raises(ValueError, match="label"):
        Pair("a", "b", 1.2)


def test_agreement_metrics_on_known_values():
    perfect = agreement(predicted=[0, 2.5, 5], human=[0, 2.5, 5], max_score=5)
    assert perfect["pearson"] == pytest.approx(1.0)
    assert perfect["rmse"] == 0.0
    assert perfect["qwk"] == pytest.approx(1.0)
    off_by_one = agreement(predicted=[1, 3, 4], human=[0, 2, 5], max_score=5)
    assert off_by_one["mae"] == pytest.approx(1.0)
    assert agreement(predicted=[3, 3, 3], human=[1, 2, 5], max_score=5)["pearson"] is None


@pytest.mark.django_db
def test_bootstrap_fine_tunes_the_base_model_on_the_seed_pairs(settings):
    version = model_version_bootstrap()
    assert version.status == ModelVersion.Status.ACTIVE
    assert version.parent is None
    run = TrainingRun.objects.get(produced_version=version)
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.dataset_size == len(load_pairs_csv(FIXTURES / "seed_pairs.csv"))
    assert run.hyperparameters == {
        "batch_size": 16, "epochs": 4, "learning_rate": 5e-5, "seed": 42, "warmup_steps": 0,
        "optimizer": "adamw_torch", "scheduler": "linear", "max_seq_length": 256,
        "precision": resolve_precision("auto"),  # bf16 where this CPU runs it natively
    }  # fmt: skip
    # The model card is the README that sentence-transformers writes, with the real training facts.
    assert "CosineSimilarityLoss" in version.model_card
    assert f"dataset_size:{run.train_size}" in version.model_card  # the held-out pairs are not trained on
    assert len(version.sha256) == 64
    # Exported to ONNX before hashing, so either inference backend can grade with it, verified alike.
    assert (artifact_dir(version) / "onnx" / "model.onnx").stat().st_size > 80_000_000
    # A second call keeps the active version instead of training again.
    assert model_version_bootstrap() == version
