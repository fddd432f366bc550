"""Held-out agreement of a model with teachers' grades. Plain Python: no Django ORM, no HTTP."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from training.dataset import Pair
from training.metrics import agreement

# texts -> L2-normalized embeddings, one row per text
EncodeFunction = Callable[[list[str]], np.ndarray]
# (cosine similarity, max points) -> points, as the grading service maps them
ToPoints = Callable[[float, float], float]


def linear_points(similarity: float, max_points: float) -> float:
    """The plain reading of a similarity: the fraction of the points it stands for."""
    return min(1.0, max(0.0, similarity)) * max_points


def encode_function_for(model_dir: str | Path, *, batch_size: int = 32) -> EncodeFunction:
    """An encode function for a saved sentence-transformers model directory (loaded here, on the CPU)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    model.eval()

    def encode(texts: list[str]) -> np.ndarray:
        vectors = model.encode(
            texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    return encode


def similarities(encode: EncodeFunction, pairs: Sequence[Pair]) -> list[float]:
    """Cosine similarity of each pair; every distinct text is encoded once."""
    texts = sorted({pair.sentence_0 for pair in pairs} | {pair.sentence_1 for pair in pairs})
    index = {text: row for row, text in enumerate(texts)}
    vectors = encode(texts)
    return [float(np.clip(vectors[index[p.sentence_0]] @ vectors[index[p.sentence_1]], -1.0, 1.0)) for p in pairs]


def held_out_agreement(
    *,
    pairs: Sequence[Pair],
    encode: EncodeFunction | None = None,
    model_dir: str | Path | None = None,
    to_points: ToPoints = linear_points,
) -> dict[str, float | None]:
    """Pearson, Spearman, RMSE, MAE in points and QWK on rounded points of the model against the labels.

    Each pair is scored on its own question's scale (label x max points); QWK runs over the largest scale.
    Give either ``encode`` or ``model_dir``.
    """
    if not pairs:
        raise ValueError("no held-out pairs")
    if encode is None:
        if model_dir is None:
            raise ValueError("give encode or model_dir")
        encode = encode_function_for(model_dir)
    cosines = similarities(encode, pairs)
    predicted = [to_points(s, p.max_points) for s, p in zip(cosines, pairs, strict=True)]
    human = [p.label * p.max_points for p in pairs]
    metrics = agreement(predicted=predicted, human=human, max_score=math.ceil(max(p.max_points for p in pairs)))
    # The same correlations before the similarity -> points mapping: they do not depend on the credit thresholds.
    raw = agreement(predicted=cosines, human=[p.label for p in pairs], max_score=1)
    return {**metrics, "cosine_pearson": raw["pearson"], "cosine_spearman": raw["spearman"]}


HIGHER_IS_BETTER = {
    "cosine_pearson": True,
    "cosine_spearman": True,
    "pearson": True,
    "spearman": True,
    "qwk": True,
    "mae": False,
    "rmse": False,
}


def improvement(*, candidate: dict, reference: dict, metric: str) -> float | None:
    """How much better the candidate is on ``metric`` (positive: better), or None if either is undefined."""
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; one of {sorted(HIGHER_IS_BETTER)}")
    a, b = candidate.get(metric), reference.get(metric)
    if a is None or b is None:
        return None
    return a - b if HIGHER_IS_BETTER[metric] else b - a
