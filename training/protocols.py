"""Run an evaluation protocol end to end: models per fold, cached encodings, progress, JSON + Markdown reports."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grader.scoring.alignment import Tokens
from training.adversarial import hard_negative_pairs
from training.dataset import Pair, build_training_set, dataset_sha256, load_pairs_csv, peer_reference_pairs
from training.evaluation import (
    DEFAULT_KS,
    DEFAULT_SEEDS,
    Item,
    fit_full_calibration,
    grade_fold,
    load_items,
    summarize,
)
from training.finetune import Hyperparameters, fine_tune

logger = logging.getLogger(__name__)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROTOCOLS = ("folds", "feedback")
CALIBRATE_WITH = ("base", "base-mapped", "fold")


class CachedEncoder:
    """Encodes with one model directory; vectors are kept on disk, so a rerun with the same model is free.

    ``backend``: "sentence-transformers" (how the model was trained), or a grading backend of
    grader.scoring.model ("onnx", "onnx-int8", "torch") to measure what the workers' own vectors grade like.
    A model without an ONNX export is exported once into the cache directory.
    """

    def __init__(self, model_dir: str | Path, cache_dir: Path, backend: str = "sentence-transformers"):
        self.model_dir = str(model_dir)
        self.backend = backend
        self._model: Any = None  # SentenceTransformer or MeanPoolingEncoder, built when first needed
        self._token_model: Any = None
        self._tokens: dict[str, Tokens] = {}
        identity = self.model_dir if backend == "sentence-transformers" else f"{self.model_dir}|{backend}"
        key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
        self.cache_path = cache_dir / f"{key}.npz"
        self._cache: dict[str, np.ndarray] = {}
        if self.cache_path.exists():
            with np.load(self.cache_path, allow_pickle=False) as data:
                self._cache = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._cache]
        if missing:
            vectors = self._encode(missing)
            self._cache.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            texts_all = list(self._cache)
            np.savez(self.cache_path, texts=np.array(texts_all), vectors=np.stack([self._cache[t] for t in texts_all]))
        return np.stack([self._cache[text] for text in texts])

    def tokens(self, texts: list[str]) -> list[Tokens]:
        """Each text's token vectors before pooling (grader.scoring.alignment), as the workers compute them; the
        sentence-transformers backend takes them from the same weights run with torch. Kept in memory only."""
        missing = [text for text in dict.fromkeys(texts) if text not in self._tokens]
        if missing:
            if self._token_model is None:
                self._token_model = self._grading_model(backend="torch" if self.backend == "sentence-transformers"
                                                        else self.backend)  # fmt: skip
            _, encoded = self._token_model.encode_with_tokens(missing, batch_size=32, max_batch_tokens=256)
            self._tokens.update(zip(missing, encoded, strict=True))
        return [self._tokens[text] for text in texts]

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.backend == "sentence-transformers":
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.model_dir, device="cpu")
            return self._model.encode(
                texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
            )
        if self._model is None:
            self._model = self._grading_model()
        return self._model.encode(texts, batch_size=32, max_batch_tokens=256)

    def _grading_model(self, backend: str | None = None):
        import shutil

        from grader.scoring.model import ONNX_FILE, MeanPoolingEncoder

        backend = backend or self.backend
        model_dir = Path(self.model_dir)
        if backend != "torch" and not (model_dir / ONNX_FILE).exists():
            from training.onnx_export import export_onnx

            exported = self.cache_path.with_suffix("")
            if not (exported / ONNX_FILE).exists():
                shutil.copytree(model_dir, exported, dirs_exist_ok=True)
                export_onnx(exported)
            model_dir = exported
        return MeanPoolingEncoder(model_dir, backend=backend, threads=os.cpu_count() or 1)


def training_pairs(
    items: Sequence[Item],
    seed_pairs: Sequence[Pair],
    *,
    peer_references: bool = False,
    hard_negatives: bool = False,
    seed: int = 42,
) -> list[Pair]:
    """The production recipe: graded answers as (answer, reference, grade) pairs, then the seed pairs.

    ``peer_references`` adds one pair per graded answer against a full-credit answer of its question
    (training.dataset.peer_reference_pairs)."""
    graded = [
        Pair(item.answer, item.reference, min(1.0, max(0.0, item.fraction)), question=item.question_id)
        for item in items
    ]
    if peer_references:
        graded += peer_reference_pairs(graded, seed=seed)
    if hard_negatives:
        graded += hard_negative_pairs({item.question_id: (item.question, item.reference) for item in items})
    return build_training_set(corrections=graded, seed_pairs=seed_pairs)


def fold_model(
    *,
    items: Sequence[Item],
    test_split: str,
    base_model_dir: Path,
    out_dir: Path,
    hyperparameters: Hyperparameters,
    seed_pairs: Sequence[Pair],
    peer_references: bool = False,
    hard_negatives: bool = False,
    held_out: Collection[str] = (),
) -> Path:
    """The model trained without ``test_split`` and ``held_out``, fine-tuned once and reused while its dataset is
    unchanged (the held-out splits of one run share it)."""
    excluded = {test_split, *held_out}
    pairs = training_pairs(
        [item for item in items if item.split not in excluded],
        seed_pairs,
        peer_references=peer_references,
        hard_negatives=hard_negatives,
        seed=hyperparameters.seed,
    )
    recipe = json.dumps(hyperparameters.as_dict(), sort_keys=True).encode("utf-8")
    digest = hashlib.sha256(dataset_sha256(pairs).encode("utf-8") + recipe).hexdigest()[:12]
    name = test_split if len(excluded) == 1 else "holdout"
    target = out_dir / "models" / f"{name}-e{hyperparameters.epochs}-{digest}"
    if (target / "modules.json").exists():
        return target
    logger.info("fine-tuning without %s on %s pairs", test_split, len(pairs))
    fine_tune(base_model_dir=base_model_dir, pairs=pairs, output_dir=target, hyperparameters=hyperparameters)
    return target


def graded_splits(
    items: Sequence[Item], *, folds: int | None, holdout: Sequence[str], corrections_from: Sequence[str] = ()
) -> list[str]:
    """The splits a run grades: the ``holdout`` ones, or else each split in turn (the first ``folds`` of them).
    ``corrections_from`` must name training splits: a graded answer never serves as another's correction."""
    splits = sorted({item.split for item in items})
    unknown = sorted((set(holdout) | set(corrections_from)) - set(splits))
    if unknown:
        raise ValueError(f"no split named {', '.join(unknown)} (the splits: {', '.join(splits)})")
    if not holdout:
        selected = splits[:folds] if folds else splits
    elif folds:
        raise ValueError("--holdout names the graded splits; --folds does not apply with it")
    elif set(holdout) == set(splits):
        raise ValueError("every split is held out: none is left to train and calibrate on")
    else:
        selected = sorted(set(holdout))
    if corrections_from and not holdout:
        raise ValueError("corrections from a split need --holdout: the graded splits must not include it")
    graded_sources = sorted(set(corrections_from) & set(selected))
    if graded_sources:
        raise ValueError(f"{', '.join(graded_sources)} is graded: corrections come from training splits only")
    return selected


def run_protocol(
    *,
    csv_path: str | Path,
    protocol: str,
    out_dir: str | Path,
    base_model_dir: str | Path,
    hyperparameters: Hyperparameters | None,
    seed_pairs_path: str | Path | None = None,
    folds: int | None = None,
    holdout: Sequence[str] = (),
    corrections_from: Sequence[str] = (),
    questions: int | None = None,
    ks: Sequence[int] | None = None,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    progress: Callable[[Sequence], Sequence] | None = None,
    calibrate_with: str = "base-mapped",
    backend: str = "sentence-transformers",
    peer_references: bool = False,
    hard_negatives: bool = False,
) -> dict:
    """``hyperparameters`` None grades with the base model (calibration only, no fine-tuning).

    ``calibrate_with`` picks the model whose vectors of the training splits fit the calibration when folds are
    fine-tuned. "base-mapped", as deployed: the calibration is fitted on the base model, and the fold model's
    similarities are mapped onto the base model's scale first (quantiles over the held-out answers, no grades;
    see grade_fold), as a trained version's are through its similarity_scale.json. "base": the same without the
    map. "fold" fits on the fold's own model, whose training-split similarities are in-sample; both kept to
    measure what they cost.

    ``backend`` encodes with the workers' inference backend instead of sentence-transformers (CachedEncoder).

    ``holdout``: grade exactly these splits, each with every other split as training (a benchmark's official test
    splits); by default each split in turn is held out (cross-validation), ``folds`` limiting it to the first N.
    ``corrections_from``: with ``holdout``, the training splits whose answers to a held-out question are its k
    corrections (grade_fold).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}")
    if calibrate_with not in CALIBRATE_WITH:
        raise ValueError(f"calibrate_with must be one of {CALIBRATE_WITH}")
    started = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = load_items(csv_path)
    ks = tuple(ks) if ks is not None else ((0,) if protocol == "folds" else DEFAULT_KS)
    splits = sorted({item.split for item in items})
    selected = graded_splits(items, folds=folds, holdout=holdout, corrections_from=corrections_from)
    seed_pairs = load_pairs_csv(seed_pairs_path) if seed_pairs_path else []
    base_encoder = CachedEncoder(base_model_dir, out_dir / "cache", backend=backend)
    outputs = []
    fold_seconds = []
    for split in progress(selected) if progress else selected:
        fold_started = time.monotonic()
        if hyperparameters is None:
            encode = base_encoder
        else:
            model_dir = fold_model(items=items, test_split=split, base_model_dir=Path(base_model_dir), out_dir=out_dir,
                                   hyperparameters=hyperparameters, seed_pairs=seed_pairs,
                                   peer_references=peer_references, hard_negatives=hard_negatives,
                                   held_out=holdout)  # fmt: skip
            encode = CachedEncoder(model_dir, out_dir / "cache", backend=backend)
        calibration_encode = encode if calibrate_with == "fold" else base_encoder
        mapped = calibrate_with == "base-mapped" and encode is not base_encoder
        outputs.append(grade_fold(items, test_split=split, encode=encode, ks=ks, seeds=seeds, max_questions=questions,
                                  calibration_encode=calibration_encode, map_similarity_scale=mapped,
                                  held_out=holdout, corrections_from=corrections_from))  # fmt: skip
        fold_seconds.append(round(time.monotonic() - fold_started, 1))
    summary = summarize(items, outputs)
    summary.update(
        {
            "protocol": protocol,
            "csv": str(csv_path),
            "score_column": "score",
            # Holding out named splits grades them completely: comparable with results published on those splits.
            "partial": bool(questions) or (not holdout and len(selected) < len(splits)),
            "holdout": sorted(set(holdout)),
            "corrections_from": sorted(set(corrections_from)),
            "folds_run": len(selected),
            "folds_total": len(splits),
            "questions_per_fold": questions,
            "model": "base" if hyperparameters is None else f"fine-tuned per fold ({hyperparameters.as_dict()})",
            "calibrated_with": "base" if hyperparameters is None else calibrate_with,
            "encoder": backend,
            "seeds": list(seeds),
            "fold_seconds": fold_seconds,
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    if hyperparameters is None and not summary["partial"]:
        summary["full_calibration"] = fit_full_calibration(items, encode=base_encoder, ks=ks, seeds=seeds)
    _write(out_dir, protocol, summary, items, outputs)
    return summary


def _write(out_dir: Path, protocol: str, summary: dict, items: Sequence[Item], outputs) -> None:
    (out_dir / f"{protocol}.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    (out_dir / f"{protocol}.md").write_text(markdown(summary), encoding="utf-8")
    with open(out_dir / f"{protocol}_predictions.csv", "w", newline="", encoding="utf-8") as handle:
        rows = csv.writer(handle)
        # row and answer_id join a prediction back to the input (row 1 is the first row after the header).
        rows.writerow(["row", "answer_id", "split", "question_id", "k", "seed", "human", "predicted", "confidence",
                       "needs_review", "reasons", "answer", "closest_reference", "references",
                       "confidence_features"])  # fmt: skip
        for output in outputs:
            for p in output.predictions:
                item = items[p.index]
                rows.writerow([item.row, item.answer_id, item.split, item.question_id, p.k, p.seed, item.score,
                                 round(p.points, 4), round(p.confidence, 4), int(p.needs_review), ";".join(p.reasons),
                                 item.answer, item.references[p.best_reference], len(item.references),
                                 json.dumps([round(value, 6) for value in p.confidence_features])])  # fmt: skip
    if summary["per_question"]:
        with open(out_dir / f"{protocol}_questions.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(summary["per_question"][0]))
            writer.writeheader()
            writer.writerows(summary["per_question"])
    with open(out_dir / f"{protocol}_adversarial.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["kind", "question_id", "answer", "fraction", "needs_review",
                                                    "reasons", "caught"])  # fmt: skip
        writer.writeheader()
        for output in outputs:
            for case in output.adversarial:
                writer.writerow({**case, "reasons": ";".join(case["reasons"])})


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _coverage_lines(summary: dict) -> list[str]:
    """Which held-out questions each k row covers: a question without enough answers for k corrections is not
    graded at k, so a row may cover fewer questions than the one above it, or none."""
    coverage = summary.get("coverage", {})
    if all(c["questions"] == c["questions_total"] for c in coverage.values()):
        return []
    sources = summary.get("corrections_from")
    rule = (
        f"at least k answers in {', '.join(sources)} (the corrections)"
        if sources
        else "more than k answers (k are the corrections, the rest are graded)"
    )
    lines = ["", f"A question is graded at k only when it has {rule}:", "",
             "| k | questions graded | answers graded |", "|---|---|---|"]  # fmt: skip
    for k, c in coverage.items():
        lines.append(f"| {k} | {c['questions']} of {c['questions_total']} | {c['answers']} of {c['answers_total']} |")
    return lines


def markdown(summary: dict) -> str:
    lines = [
        f"Protocol `{summary['protocol']}` on `{summary['csv']}` (score column `{summary['score_column']}`), "
        f"model: {summary['model']}, calibrated with `{summary.get('calibrated_with', 'base')}`; "
        + (
            f"held out: {', '.join(summary['holdout'])}, every other split as training"
            if summary.get("holdout")
            else f"{summary['folds_run']}/{summary['folds_total']} folds"
        )
        + (" — **partial run**" if summary["partial"] else "")
        + f", {summary['n_items']} answers graded, {summary['seconds']} s.",
        "",
        "| k (teacher grades per question) | Pearson | Spearman | RMSE | RMSE floor | MAE | QWK | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, m in summary["per_k"].items():
        pearson = _fmt(m["pearson"]) + (f" ± {m['pearson_sd']:.3f}" if "pearson_sd" in m else "")
        rmse = _fmt(m["rmse"]) + (f" ± {m['rmse_sd']:.3f}" if "rmse_sd" in m else "")
        lines.append(f"| {k} | {pearson} | {_fmt(m['spearman'])} | {rmse} | {_fmt(m.get('rmse_floor'))} "
                     f"| {_fmt(m['mae'])} | {_fmt(m['qwk'])} | {m['seeds']} |")  # fmt: skip
    for k in summary.get("coverage", {}):
        if k not in summary["per_k"]:
            lines.append(f"| {k} | no held-out question has enough answers for k corrections (below) | | | | | | |")
    lines += _coverage_lines(summary)
    lines += ["", "RMSE floor: the lowest RMSE any rescaling of these predictions could reach, std(human) * "
              "sqrt(1 - Pearson^2). Above it, the error is scale (calibration); the floor only falls with a better "
              "ranking."]  # fmt: skip
    if any("accuracy" in m for m in summary["per_k"].values()):
        lines += ["", "Right/wrong labels (half the points or more counts as right; AUC ranks by the grade):",
                  "", "| k | accuracy | macro F1 | weighted F1 | AUC |", "|---|---|---|---|---|"]  # fmt: skip
        for k, m in summary["per_k"].items():
            cells = [_fmt(m.get(name)) for name in ("accuracy", "macro_f1", "weighted_f1", "auc")]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += ["", "Routing to review by confidence (share of answers routed; pass/fail errors among those released):",
              "", "| k | " + " | ".join(f"risk {r}" for r in next(iter(summary["per_k"].values()))["review"]) + " |",
              "|---|" + "---|" * len(next(iter(summary["per_k"].values()))["review"])]  # fmt: skip
    for k, m in summary["per_k"].items():
        cells = [f"{v['routed_to_review']:.1%} routed, {_fmt(v['released_pass_fail_errors'])} errors"
                 for v in m["review"].values()]  # fmt: skip
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    worst = sorted(summary.get("per_question", []), key=lambda row: -row["mae"])[:5]
    if worst:
        lines += ["", f"The questions graded worst at k = 0 (of {len(summary['per_question'])}; all in "
                  f"`{summary['protocol']}_questions.csv`):", "",
                  "| question | split | answers | human mean | grader mean | MAE | Pearson |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {row['question_id']} | {row['split']} | {row['answers']} | {_fmt(row['human_mean'])} "
                  f"| {_fmt(row['predicted_mean'])} | {_fmt(row['mae'])} | {_fmt(row['pearson'])} |"
                  for row in worst]  # fmt: skip
    adversarial = summary["adversarial"]
    if adversarial["n"]:
        lines += ["", f"Adversarial suite: {adversarial['n']} generated answers, "
                  f"**{adversarial['caught_rate']:.1%}** below the pass mark or routed to review.", "",
                  "| kind | caught |", "|---|---|"]  # fmt: skip
        lines += [f"| {kind} | {rate:.1%} |" for kind, rate in adversarial["by_kind"].items()]
    return "\n".join(lines) + "\n"
