"""Reference-answer embeddings, computed once per (reference, model version) and kept in the database."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from grader.models import ModelVersion, ReferenceAnswer, ReferenceEmbedding
from grader.scoring.encoder import Encoder


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reference_vectors(
    *, encoder: Encoder, model_version: ModelVersion, references: Sequence[ReferenceAnswer]
) -> np.ndarray:
    """One normalized row per reference, in the order given. Missing or stale rows are encoded and stored."""
    if not references:
        return np.zeros((0, 384), dtype=np.float32)
    stored = {
        row.reference_id: row
        for row in ReferenceEmbedding.objects.filter(model_version=model_version, reference__in=references)
    }
    vectors: dict[int, np.ndarray] = {}
    stale: list[ReferenceAnswer] = []
    for reference in references:
        row = stored.get(reference.id)
        if row is not None and row.text_sha256 == _text_sha256(reference.text):
            vectors[reference.id] = np.frombuffer(bytes(row.vector), dtype="<f4")
        else:
            stale.append(reference)
    if stale:
        encoded = encoder.encode([reference.text for reference in stale])
        for reference, vector in zip(stale, encoded, strict=True):
            vectors[reference.id] = vector
            # update_or_create, not bulk_create: two workers may encode the same reference at once.
            ReferenceEmbedding.objects.update_or_create(
                reference=reference,
                model_version=model_version,
                defaults={"text_sha256": _text_sha256(reference.text), "vector": vector.astype("<f4").tobytes()},
            )
    return np.stack([vectors[reference.id] for reference in references])
