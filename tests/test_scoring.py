"""The model and the similarity → points mapping, on the real model."""

from decimal import Decimal

import numpy as np
import pytest

from grader.scoring.model import base_model_path, load_model
from tests.grading import grade_answers, similarity_to_points

SEED_CARD_SENTENCES = [
    "Gradient descent is an optimization algorithm that iteratively adjusts parameters in the direction that "
    "reduces the loss function.",
    "Gradient descent updates model parameters step by step to minimize the error or loss function.",
    "Batch normalization normalizes layer inputs to reduce internal covariate shift and speed up training.",
]
SEED_CARD_MATRIX = np.array([[1, 0.71, 0.33], [0.71, 1, 0.39], [0.33, 0.39, 1]])


def test_base_model_reproduces_the_seed_card_similarities():
    encoder = load_model(path=base_model_path())
    vectors = encoder.encode(SEED_CARD_SENTENCES)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors @ vectors.T, SEED_CARD_MATRIX, atol=0.02)


def test_grading_encoder_gives_what_sentence_transformers_gives(tmp_path):
    """The workers encode with plain transformers (grader.scoring.model.MeanPoolingEncoder) to save memory;
    a fine-tuned version must come out exactly as sentence-transformers, which trained it, would encode it."""
    from sentence_transformers import SentenceTransformer

    from grader.scoring.model import MeanPoolingEncoder
    from training.onnx_export import export_onnx

    texts = [
        *SEED_CARD_SENTENCES,
        "  surrounded by spaces  ",
        "Ünïcödé and emoji 🎓",
        "x",
        "word " * 400,  # past max_seq_length: truncated the same way
    ]
    reference = SentenceTransformer(str(base_model_path()), device="cpu")
    expected = reference.encode(texts, batch_size=3, normalize_embeddings=True, convert_to_numpy=True)
    # A version saved by this sentence-transformers (as training does) has configuration files of a newer format;
    # training also exports it to ONNX for the torch-free backend.
    reference.save(str(tmp_path / "saved"))
    export_onnx(tmp_path / "saved")

    for path, backend in [(base_model_path(), "torch"), (tmp_path / "saved", "torch"), (tmp_path / "saved", "onnx")]:
        encoder = MeanPoolingEncoder(path, backend=backend)
        assert encoder.backend == backend
        np.testing.assert_allclose(encoder.encode(texts, batch_size=3), expected, atol=1e-5)
        np.testing.assert_allclose(encoder.encode(texts, batch_size=3, max_batch_tokens=64), expected, atol=1e-5)


def test_a_version_without_an_onnx_export_is_run_with_torch():
    from grader.scoring.model import MeanPoolingEncoder

    assert MeanPoolingEncoder(base_model_path(), backend="onnx").backend == "torch"
    assert MeanPoolingEncoder(base_model_path(), backend="onnx-int8").backend == "torch"


def test_the_int8_backend_encodes_close_to_the_float_model_and_keeps_the_ranking(tmp_path, caplog):
    """onnx-int8 trades exactness for speed; how far it may move a vector is bounded here, and a paraphrase must
    still outrank an unrelated answer. The int8 file comes with every export; without it, the float model runs."""
    import shutil

    from grader.scoring.model import ONNX_INT8_FILE, MeanPoolingEncoder
    from training.onnx_export import export_onnx

    shutil.copytree(base_model_path(), tmp_path / "version")
    with caplog.at_level("INFO"):
        export_onnx(tmp_path / "version")
    assert (tmp_path / "version" / ONNX_INT8_FILE).exists()
    # The quantizer's ~36 INFO lines stay out of the training log (its warnings do not).
    assert not [r for r in caplog.records if "onnxruntime" in r.pathname and r.levelname in ("DEBUG", "INFO")]
    texts = [*SEED_CARD_SENTENCES, "A stack is last in, first out.", "word " * 400]
    exact = MeanPoolingEncoder(tmp_path / "version", backend="onnx").encode(texts, batch_size=4)
    int8 = MeanPoolingEncoder(tmp_path / "version", backend="onnx-int8")
    assert int8.backend == "onnx-int8"
    vectors = int8.encode(texts, batch_size=4)

    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.min((vectors * exact).sum(axis=1)) > 0.97
    np.testing.assert_allclose(vectors @ vectors.T, exact @ exact.T, atol=0.07)
    card = vectors[:3] @ vectors[:3].T
    np.testing.assert_allclose(card, SEED_CARD_MATRIX, atol=0.05)
    assert card[0, 1] > max(card[0, 2], card[1, 2]) + 0.2  # the paraphrase still far ahead of the other topic

    (tmp_path / "version" / ONNX_INT8_FILE).unlink()
    assert MeanPoolingEncoder(tmp_path / "version", backend="onnx-int8").backend == "onnx"


def test_a_token_budget_changes_how_answers_are_batched_not_their_vectors():
    from grader.scoring.model import _batches

    encoder = load_model(path=base_model_path()).runtime
    texts = [*SEED_CARD_SENTENCES, "short", "word " * 300, "two words"]
    unlimited = encoder.encode(texts, batch_size=32)
    np.testing.assert_allclose(encoder.encode(texts, batch_size=32, max_batch_tokens=64), unlimited, atol=1e-5)

    # Longest first; a run holds at most 3 rows and 100 padded tokens; an over-long row is a batch alone.
    assert _batches([7, 8, 9, 10, 11], [300, 40, 30, 20, 5], 3, 100) == [[7], [8, 9], [10, 11]]
    assert _batches([1, 2, 3, 4], [10, 10, 10, 10], 3, None) == [[1, 2, 3], [4]]


def test_grading_encoder_refuses_a_model_that_does_not_pool_by_the_mean(tmp_path):
    import shutil

    from grader.scoring.model import MeanPoolingEncoder

    model_dir = tmp_path / "cls-pooling"
    shutil.copytree(base_model_path(), model_dir)
    pooling = model_dir / "1_Pooling" / "config.json"
    pooling.write_text(pooling.read_text().replace('"pooling_mode_cls_token": false', '"pooling_mode_cls_token": true'))

    with pytest.raises(ValueError, match="pools otherwise"):
        MeanPoolingEncoder(model_dir)


def test_paraphrase_scores_clearly_above_off_topic(base_model_version, gradient_descent_question):
    from grader.scoring.model import load_model as load
    from grader.services.model_versions import artifact_dir

    encoder = load(path=artifact_dir(base_model_version), version_id=base_model_version.pk)
    paraphrase, off_topic = grade_answers(
        model=encoder,
        version=base_model_version,
        question=gradient_descent_question,
        answers=[
            "It repeatedly changes the model's parameters a little in the direction that lowers the loss.",
            "The French revolution began in 1789 with the storming of the Bastille.",
        ],
    )
    assert paraphrase.similarity - off_topic.similarity > 0.3
    assert paraphrase.points > off_topic.points
    for score in (paraphrase, off_topic):
        assert Decimal("0") <= score.points <= gradient_descent_question.max_points


def test_reference_embeddings_are_computed_once_per_model_version(base_model_version, gradient_descent_question):
    from grader.models import ReferenceEmbedding
    from grader.services.model_versions import artifact_dir

    encoder = load_model(path=artifact_dir(base_model_version), version_id=base_model_version.pk)
    grade_answers(model=encoder, version=base_model_version, question=gradient_descent_question, answers=["x"])
    stored = ReferenceEmbedding.objects.filter(model_version=base_model_version)
    assert stored.count() == gradient_descent_question.reference_answers.count()
    vectors_before = {row.reference_id: bytes(row.vector) for row in stored}
    grade_answers(model=encoder, version=base_model_version, question=gradient_descent_question, answers=["y"])
    assert {row.reference_id: bytes(row.vector) for row in stored.all()} == vectors_before


@pytest.mark.parametrize("similarity", [-1.0, -0.2, 0.0, 0.3, 0.5, 0.74, 0.76, 1.0, 1.5, float("nan"), float("inf")])
@pytest.mark.parametrize("max_points", [Decimal("1"), Decimal("5"), Decimal("7.5")])
def test_points_stay_within_zero_and_max_points(similarity, max_points):
    points = similarity_to_points(
        similarity=similarity, max_points=max_points, zero_credit=0.25, full_credit=0.75, step=0.5
    )
    assert Decimal("0") <= points <= max_points


def test_points_rise_with_similarity_and_reach_the_ends():
    kwargs = {"max_points": Decimal("5"), "zero_credit": 0.25, "full_credit": 0.75, "step": 0.5}
    assert similarity_to_points(similarity=0.25, **kwargs) == Decimal("0")
    assert similarity_to_points(similarity=0.75, **kwargs) == Decimal("5")
    assert similarity_to_points(similarity=0.5, **kwargs) == Decimal("2.5")
    grid = [similarity_to_points(similarity=s / 100, **kwargs) for s in range(0, 101)]
    assert grid == sorted(grid)
