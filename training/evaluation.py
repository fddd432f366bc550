"""Measure grader against human grades on any CSV in the common benchmark schema. Plain Python: no ORM, no HTTP.

Two protocols share one engine; both are nested (whatever is fitted is fitted on training splits only):

* ``folds`` (cold start on unseen questions): for each value of ``split``, the other splits train the model
  (through the production fine-tuning pipeline, ``training.finetune.fine_tune``) and fit the calibration, and
  the held-out split is graded.
* ``feedback`` (the product's loop): as ``folds``, and in addition for each held-out question k answers get the
  teacher's grade as corrections before the rest are graded (k = 0, 2, 5, 10, 20; fixed seeds).

The grade of every answer comes from ``grader.scoring.decision.decide``, the function the workers call.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from grader.scoring.alignment import Tokens, reference_alignment
from grader.scoring.calibration import (
    Calibration,
    Evidence,
    cold_design,
    fit_linear,
)
from grader.scoring.calibration import (
    feedback_features as _feedback_row,
)
from grader.scoring.decision import decide
from grader.scoring.features import MIN_PEERS, answer_features, demoted_similarity
from grader.scoring.similarity_scale import ALIGNMENT, DEMOTED, SimilarityScale
from training.adversarial import generate as generate_adversarial
from training.metrics import agreement, binary_agreement

logger = logging.getLogger(__name__)

Encode = Callable[[list[str]], np.ndarray]
DEFAULT_KS = (0, 2, 5, 10, 20)
DEFAULT_SEEDS = (0, 1, 2)
PASS_FRACTION = 0.5
REVIEW_RISKS = (0.1, 0.2, 0.3, 0.5)  # 0.5: only the guards route
# The cold stage's terms for every calibration fitted here (grader.scoring.calibration.cold_design). Chosen on
# Mohler folds 1-6 and confirmed on 7-12 (bench/quality_notes.md): quadratic +0.034 Pearson at k = 0 there.
COLD_TERMS = "quadratic"


@dataclass(frozen=True)
class Item:
    question_id: str
    question: str
    reference: str
    answer: str
    score: float
    max_score: float
    split: str

    @property
    def fraction(self) -> float:
        return self.score / self.max_score


def load_items(path: str | Path) -> list[Item]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            Item(
                question_id=row["question_id"],
                question=row["question"],
                reference=row["reference_answer"],
                answer=row["student_answer"],
                score=float(row["score"]),
                max_score=float(row["max_score"]),
                split=row["split"],
            )
            for row in csv.DictReader(handle)
        ]


@dataclass
class Prediction:
    index: int  # into the items
    k: int
    seed: int
    fraction: float
    points: float
    confidence: float
    needs_review: bool
    reasons: tuple[str, ...]


@dataclass
class FoldOutput:
    split: str
    predictions: list[Prediction] = field(default_factory=list)
    adversarial: list[dict] = field(default_factory=list)
    calibration: dict = field(default_factory=dict)


class VectorTable:
    """Text → L2-normalized vector for one model, encoded once; and its token vectors, when ``encode`` has a
    ``tokens`` method (training.protocols.CachedEncoder), for the alignment feature. Without one the alignment is
    left to answer_features' stand-in."""

    def __init__(self, encode: Encode, texts: Sequence[str]):
        unique = sorted(set(texts))
        matrix = encode(unique) if unique else np.zeros((0, 384), dtype=np.float32)
        self._row = {text: i for i, text in enumerate(unique)}
        self._matrix = np.asarray(matrix, dtype=np.float32)
        tokens = getattr(encode, "tokens", None)
        self._tokens = dict(zip(unique, tokens(unique), strict=True)) if tokens is not None and unique else None

    def tokens(self, text: str) -> Tokens | None:
        return None if self._tokens is None else self._tokens[text]

    def tokens_many(self, texts: Sequence[str]) -> tuple[Tokens, ...] | None:
        return None if self._tokens is None else tuple(self._tokens[text] for text in texts)

    def alignment(self, answer: str, reference: str, question: str) -> float | None:
        """grader.scoring.alignment.reference_alignment, as grading computes it; None without token vectors."""
        if self._tokens is None:
            return None
        return reference_alignment(self._tokens[answer], [self._tokens[reference]], self._tokens[question].ids)

    def __getitem__(self, text: str) -> np.ndarray:
        return self._matrix[self._row[text]]

    def many(self, texts: Sequence[str]) -> np.ndarray:
        return self._matrix[[self._row[text] for text in texts]]


def _texts(items: Sequence[Item], indices: Sequence[int]) -> list[str]:
    """Every text a grade of these items needs encoded: the answer, the question and the reference."""
    return [text for i in indices for text in (items[i].answer, items[i].question, items[i].reference)]


def _arrival_consensus(indices: Sequence[int], vectors: np.ndarray, *, seed: int) -> dict[int, float | None]:
    """Similarity to the centroid of the answers that arrived earlier, as the service sees it at grading time."""
    order = np.random.default_rng(seed).permutation(len(indices))
    total = np.zeros(vectors.shape[1], dtype=np.float64)
    consensus: dict[int, float | None] = {}
    for count, position in enumerate(order):
        vector = vectors[position]
        norm = np.linalg.norm(total)
        consensus[indices[position]] = float(vector @ total / norm) if count >= MIN_PEERS and norm > 0 else None
        total += vector
    return consensus


def _features(items: Sequence[Item], indices: Sequence[int], table: VectorTable, *, seed: int) -> np.ndarray:
    by_question: dict[str, list[int]] = defaultdict(list)
    for index in indices:
        by_question[items[index].question_id].append(index)
    rows: dict[int, np.ndarray] = {}
    for question_indices in by_question.values():
        answers = table.many([items[i].answer for i in question_indices])
        consensus = _arrival_consensus(question_indices, answers, seed=seed)
        for position, index in enumerate(question_indices):
            item = items[index]
            similarity = float(answers[position] @ table[item.reference])
            question_similarity = float(answers[position] @ table[item.question])
            reference_question = float(table[item.reference] @ table[item.question])
            rows[index] = answer_features(
                similarity=similarity,
                question_similarity=question_similarity,
                consensus=consensus[index],
                answer=item.answer,
                question=item.question,
                references=[item.reference],
                demoted=demoted_similarity(np.array([similarity]), question_similarity, np.array([reference_question])),
                alignment=table.alignment(item.answer, item.reference, item.question),
            )
    return np.stack([rows[index] for index in indices])


def fit_calibration(
    items: Sequence[Item], indices: Sequence[int], table: VectorTable, *, ks: Sequence[int], seeds: Sequence[int]
) -> Calibration:
    """Fit the cold and feedback stages on ``indices`` only (the training splits)."""
    x = cold_design(_features(items, indices, table, seed=0), COLD_TERMS)
    y = np.array([items[i].fraction for i in indices])
    cold, residual_std = fit_linear(x, y)
    feedback = None
    if any(k > 0 for k in ks):
        # The feedback stage must see cold predictions as they are on unseen questions: out-of-split ones.
        splits = np.array([items[i].split for i in indices])
        out_of_split = np.zeros(len(indices))
        for split in np.unique(splits):
            inner = splits != split
            if not inner.any():
                out_of_split[~inner] = np.clip(cold.predict(x[~inner]), 0, 1)
                continue
            model, _ = fit_linear(x[inner], y[inner])
            out_of_split[~inner] = np.clip(model.predict(x[~inner]), 0, 1)
        cold_by_index = dict(zip(indices, out_of_split, strict=True))
        rows, targets = [], []
        for k in (k for k in ks if k > 0):
            for seed in seeds:
                for evidence, rest in _feedback_splits(items, indices, cold_by_index, table, k=k, seed=100 + seed):
                    for index in rest:
                        vector = table[items[index].answer]
                        rows.append(_feedback_row(cold=cold_by_index[index], vector=vector, evidence=evidence,
                                                  tokens=table.tokens(items[index].answer)))  # fmt: skip
                        targets.append(items[index].fraction)
        if rows:
            feedback, _ = fit_linear(np.array(rows), np.array(targets))
    return Calibration(cold=cold, feedback=feedback, cold_terms=COLD_TERMS, error_std=residual_std)


def _feedback_splits(items, indices, cold_by_index, table, *, k, seed):
    """For each question: k answers the teacher graded (as Evidence), and the rest."""
    rng = np.random.default_rng(seed)
    by_question: dict[str, list[int]] = defaultdict(list)
    for index in indices:
        by_question[items[index].question_id].append(index)
    for question_id in sorted(by_question):
        question_indices = list(rng.permutation(by_question[question_id]))
        graded, rest = question_indices[:k], question_indices[k:]
        if not rest:
            continue
        if not graded:
            yield Evidence.empty(), rest
            continue
        yield (
            Evidence(
                teacher=np.array([items[i].fraction for i in graded]),
                cold=np.array([cold_by_index[i] for i in graded]),
                vectors=table.many([items[i].answer for i in graded]),
                tokens=table.tokens_many([items[i].answer for i in graded]),
            ),
            rest,
        )


def grade_fold(
    items: Sequence[Item],
    *,
    test_split: str,
    encode: Encode,
    ks: Sequence[int],
    seeds: Sequence[int],
    max_questions: int | None = None,
    calibration_encode: Encode | None = None,
    map_similarity_scale: bool = False,
) -> FoldOutput:
    """Grade ``test_split`` with ``encode``, calibrated on the other splits' vectors from ``calibration_encode``.

    ``calibration_encode`` defaults to ``encode``. Pass the base model when ``encode`` is a model fine-tuned on
    the training splits: its similarities there are in-sample (it learned those very answers), so a calibration
    fitted on them learns to trust the similarity far more than it deserves on unseen answers. The deployed
    service has the same split: its calibration file is fitted once on the base model, its active version changes.

    ``map_similarity_scale`` (with a ``calibration_encode``): the fold model's similarities are put on the
    calibration model's scale before the calibration sees them, by matching quantiles over the held-out answers
    (both models encode them; no grade is used). A fine-tuned model ranks answers better than the base model but
    spreads its similarities differently, so the base-fitted calibration alone mis-scales its grades.
    """
    train = [i for i, item in enumerate(items) if item.split != test_split]
    test_questions = sorted({item.question_id for item in items if item.split == test_split})
    if max_questions:
        test_questions = test_questions[:max_questions]
    chosen = set(test_questions)
    test = [i for i, item in enumerate(items) if item.split == test_split and item.question_id in chosen]
    questions = {items[i].question_id: (items[i].question, items[i].reference) for i in test}
    adversarial = generate_adversarial(questions)
    table = VectorTable(
        encode,
        _texts(items, test) + [case.answer for case in adversarial],
    )
    train_table = VectorTable(calibration_encode or encode, _texts(items, train))
    calibration = fit_calibration(items, train, train_table, ks=ks, seeds=seeds)
    output = FoldOutput(split=test_split, calibration=calibration.to_dict())
    x_test = _features(items, test, table, seed=0)
    scale = None
    if map_similarity_scale and calibration_encode is not None:
        calibration_table = VectorTable(calibration_encode, _texts(items, test))
        scale = SimilarityScale.fit(source=x_test, target=_features(items, test, calibration_table, seed=0))
        x_test = scale.apply(x_test)
    features_by_index = dict(zip(test, x_test, strict=True))
    cold_by_index = {i: calibration.cold_fraction(features_by_index[i]) for i in test}
    for k in ks:
        for seed in seeds if k > 0 else seeds[:1]:
            for evidence, rest in _feedback_splits(items, test, cold_by_index, table, k=k, seed=seed):
                for index in rest:
                    output.predictions.append(_predict(items[index], index, features_by_index[index], evidence,
                                                       table, calibration, k=k, seed=seed))  # fmt: skip
    output.adversarial = _grade_adversarial(items, test, adversarial, table, calibration, scale)
    return output


def _predict(item, index, features, evidence, table, calibration, *, k, seed) -> Prediction:
    decision = decide(
        similarity=float(features[0]),
        question_similarity=float(features[1]),
        consensus=float(features[2]) if features[3] else None,
        demoted=float(features[DEMOTED]),
        alignment=float(features[ALIGNMENT]),
        tokens=table.tokens(item.answer),
        vector=table[item.answer],
        answer=item.answer,
        question=item.question,
        references=[item.reference],
        evidence=evidence,
        calibration=calibration,
        max_points=Decimal(str(item.max_score)),
        step=0.0,
        pass_fraction=PASS_FRACTION,
        review_risk=1.0,  # never route here: the review rate is computed afterwards at several risks
    )
    return Prediction(index, k, seed, decision.fraction, decision.fraction * item.max_score, decision.confidence,
                      decision.needs_review, decision.reasons)  # fmt: skip


def _grade_adversarial(items, test, cases, table, calibration, scale: SimilarityScale | None = None) -> list[dict]:
    """Each case graded as if it arrived after every real answer to its question, with no corrections yet."""
    by_question: dict[str, list[int]] = defaultdict(list)
    for index in test:
        by_question[items[index].question_id].append(index)
    results = []
    for case in cases:
        peers = table.many([items[i].answer for i in by_question[case.question_id]])
        centroid = peers.sum(axis=0)
        vector = table[case.answer]
        norm = float(np.linalg.norm(centroid))
        max_score = items[by_question[case.question_id][0]].max_score
        similarity = float(vector @ table[case.reference])
        question_similarity = float(vector @ table[case.question])
        consensus = float(vector @ centroid / norm) if len(peers) >= MIN_PEERS and norm > 0 else None
        demoted = demoted_similarity(
            np.array([similarity]), question_similarity, np.array([table[case.reference] @ table[case.question]])
        )
        alignment = table.alignment(case.answer, case.reference, case.question)
        alignment = similarity if alignment is None else alignment  # answer_features' stand-in, before the map
        if scale is not None:
            similarity, question_similarity, consensus, demoted, alignment = scale.similarities(
                similarity=similarity,
                question_similarity=question_similarity,
                consensus=consensus,
                demoted=demoted,
                alignment=alignment,
            )
        decision = decide(
            similarity=similarity,
            question_similarity=question_similarity,
            consensus=consensus,
            demoted=demoted,
            alignment=alignment,
            vector=vector,
            answer=case.answer,
            question=case.question,
            references=[case.reference],
            evidence=Evidence.empty(),
            calibration=calibration,
            max_points=Decimal(str(max_score)),
            step=0.0,
            pass_fraction=PASS_FRACTION,
            review_risk=1.0,
        )
        results.append(
            {
                "kind": case.kind,
                "question_id": case.question_id,
                "answer": case.answer,
                "fraction": decision.fraction,
                "needs_review": decision.needs_review,
                "reasons": list(decision.reasons),
                "caught": decision.fraction < PASS_FRACTION or decision.needs_review,
            }
        )
    return results


def summarize(items: Sequence[Item], outputs: Sequence[FoldOutput]) -> dict:
    """Metrics per k (mean over seeds, and the spread), review routing at several risks, adversarial rates."""
    predictions = [p for output in outputs for p in output.predictions]
    max_score = max(item.max_score for item in items)
    binary = all(item.score in (0.0, item.max_score) for item in items)
    per_k: dict[int, dict] = {}
    for k in sorted({p.k for p in predictions}):
        runs = []
        for seed in sorted({p.seed for p in predictions if p.k == k}):
            chosen = [p for p in predictions if p.k == k and p.seed == seed]
            metrics = agreement(
                predicted=[p.points for p in chosen], human=[items[p.index].score for p in chosen], max_score=max_score
            )
            if binary:
                metrics.update(_binary_metrics(chosen, items))
            metrics["review"] = _review_rates(chosen, items)
            runs.append(metrics)
        per_k[k] = _mean_of_runs(runs)
    adversarial = [case for output in outputs for case in output.adversarial]
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for case in adversarial:
        by_kind[case["kind"]].append(case["caught"])
    return {
        "n_items": len({p.index for p in predictions}),
        "splits": [output.split for output in outputs],
        "per_k": per_k,
        "adversarial": {
            "n": len(adversarial),
            "caught_rate": float(np.mean([c["caught"] for c in adversarial])) if adversarial else None,
            "by_kind": {kind: float(np.mean(values)) for kind, values in sorted(by_kind.items())},
        },
    }


def _review_rates(chosen: Sequence[Prediction], items: Sequence[Item]) -> dict:
    rates = {}
    for risk in REVIEW_RISKS:
        released = [p for p in chosen if not p.needs_review and 1.0 - p.confidence <= risk]
        human = np.array([items[p.index].fraction for p in released])
        predicted = np.array([p.fraction for p in released])
        wrong_side = float(np.mean((human >= PASS_FRACTION) != (predicted >= PASS_FRACTION))) if released else None
        rates[str(risk)] = {
            "routed_to_review": 1.0 - len(released) / len(chosen),
            "released_pass_fail_errors": wrong_side,
        }
    return rates


def _binary_metrics(chosen, items) -> dict:
    return binary_agreement(
        predicted=[p.fraction for p in chosen], human=[items[p.index].fraction for p in chosen], threshold=0.5
    )


def _mean_of_runs(runs: list[dict]) -> dict:
    merged: dict = {"seeds": len(runs)}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            merged[key] = value if len(runs) == 1 else _mean_of_runs([run[key] for run in runs])
            merged[key].pop("seeds", None)
        elif isinstance(value, int | float) or value is None:
            values = [run[key] for run in runs if run[key] is not None]
            merged[key] = float(np.mean(values)) if values else None
            if key in {"pearson", "rmse"} and len(values) > 1:
                merged[f"{key}_sd"] = float(np.std(values))
    return merged


def fit_full_calibration(items: Sequence[Item], *, encode: Encode, ks: Sequence[int], seeds: Sequence[int]) -> dict:
    """The calibration fitted on every row, for a deployment to use (``GRADER_CALIBRATION_PATH``)."""
    indices = list(range(len(items)))
    table = VectorTable(encode, _texts(items, range(len(items))))
    return fit_calibration(items, indices, table, ks=ks, seeds=seeds).to_dict()


def text_sha(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
