"""Reference-answer embeddings, computed once per (reference, model version): kept in the database and in memory.

The database row survives restarts and is shared by every worker; the in-process copy saves the query on the hot
path. Both are keyed by the hash of the text encoded, so an edited reference is re-encoded, never served stale.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from grader.models import ModelVersion, ReferenceAnswer, ReferenceEmbedding
from grader.scoring.alignment import Tokens
from grader.scoring.encoder import Encoder

# (model version id, reference id) -> (text sha256, vector). Only the latest model version's entries are kept.
_memory: dict[tuple[int, int], tuple[str, np.ndarray]] = {}
_memory_version: int | None = None
_memory_lock = threading.Lock()
# (model version id, text sha256) -> the text's token vectors (grader.scoring.alignment), for references and
# corrected answers. In memory only, least recently used first out: a token matrix is ~15-40 kB (float16) against
# 1.5 kB for a sentence vector, and encoding a text again when a process first needs it costs a few milliseconds.
_token_memory: OrderedDict[tuple[int, str], Tokens] = OrderedDict()
TOKEN_MEMORY_TEXTS = 2048


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clear_memory_cache() -> None:
    global _memory_version
    with _memory_lock:
        _memory.clear()
        _token_memory.clear()
        _memory_version = None


def _switch_version(model_version_id: int) -> None:
    """Under _memory_lock: on a promotion, drop the old version's entries; this process will not ask for them."""
    global _memory_version
    if _memory_version != model_version_id:
        _memory.clear()
        _token_memory.clear()
        _memory_version = model_version_id


def _remember(model_version_id: int, entries: Iterable[tuple[int, str, np.ndarray]]) -> None:
    with _memory_lock:
        _switch_version(model_version_id)
        for reference_id, text_sha256, vector in entries:
            _memory[(model_version_id, reference_id)] = (text_sha256, vector)


def reference_vectors_for(
    *, encoder: Encoder, model_version: ModelVersion, references: Sequence[ReferenceAnswer]
) -> dict[int, np.ndarray]:
    """A normalized vector per reference id, for references of any number of questions.

    At most one read (what memory lacks), one encode call and one write (what the database lacks or has stale),
    however many references and questions are asked for.
    """
    vectors: dict[int, np.ndarray] = {}
    hashes = {reference.id: _text_sha256(reference.text) for reference in references}
    missing = []
    for reference in references:
        cached = _memory.get((model_version.pk, reference.id))
        if cached is not None and cached[0] == hashes[reference.id]:
            vectors[reference.id] = cached[1]
        else:
            missing.append(reference)
    if not missing:
        return vectors
    stored = ReferenceEmbedding.objects.filter(
        model_version=model_version, reference_id__in=[reference.id for reference in missing]
    ).only("reference_id", "text_sha256", "vector")
    stored_by_reference = {row.reference_id: row for row in stored}
    stale: list[ReferenceAnswer] = []
    found = []
    for reference in missing:
        row = stored_by_reference.get(reference.id)
        if row is not None and row.text_sha256 == hashes[reference.id]:
            vector = np.frombuffer(bytes(row.vector), dtype="<f4")
            vectors[reference.id] = vector
            found.append((reference.id, hashes[reference.id], vector))
        else:
            stale.append(reference)
    if stale:
        encoded = encoder.encode([reference.text for reference in stale])
        rows = []
        for reference, vector in zip(stale, encoded, strict=True):
            vectors[reference.id] = vector
            found.append((reference.id, hashes[reference.id], vector))
            rows.append(
                ReferenceEmbedding(
                    reference=reference,
                    model_version=model_version,
                    text_sha256=hashes[reference.id],
                    vector=vector.astype("<f4").tobytes(),
                )
            )
        # An upsert: two workers may encode the same reference at once, and the last (identical) write wins. In key
        # order, so two such upserts wait for each other instead of deadlocking (see review_answers).
        rows.sort(key=lambda row: row.reference_id)
        ReferenceEmbedding.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["reference", "model_version"],
            update_fields=["text_sha256", "vector"],
        )
    _remember(model_version.pk, found)
    return vectors


def reference_vectors(
    *, encoder: Encoder, model_version: ModelVersion, references: Sequence[ReferenceAnswer]
) -> np.ndarray:
    """One normalized row per reference, in the order given. Missing or stale rows are encoded and stored."""
    if not references:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = reference_vectors_for(encoder=encoder, model_version=model_version, references=references)
    return np.stack([vectors[reference.id] for reference in references])


def text_tokens(*, encoder: Encoder, model_version: ModelVersion, texts: Sequence[str]) -> list[Tokens]:
    """The texts' token vectors (grader.scoring.alignment), in the order given: what this process lacks is
    encoded in one call and kept for the model version (kept in float16: cosines move by ~1e-3)."""
    keys = [(model_version.pk, _text_sha256(text)) for text in texts]
    found: dict[tuple[int, str], Tokens] = {}
    with _memory_lock:
        for key in keys:
            if key in _token_memory:
                _token_memory.move_to_end(key)
                found[key] = _token_memory[key]
    missing = list(dict.fromkeys(text for text, key in zip(texts, keys, strict=True) if key not in found))
    if missing:
        _, encoded = encoder.encode_with_tokens(missing)
        new = {
            (model_version.pk, _text_sha256(text)): replace(tokens, vectors=tokens.vectors.astype(np.float16))
            for text, tokens in zip(missing, encoded, strict=True)
        }
        found.update(new)
        with _memory_lock:
            _switch_version(model_version.pk)
            _token_memory.update(new)
            while len(_token_memory) > TOKEN_MEMORY_TEXTS:
                _token_memory.popitem(last=False)
    return [found[key] for key in keys]
