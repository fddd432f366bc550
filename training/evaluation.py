"""Measure grader against human grades on any CSV in the common benchmark schema. Plain Python: no ORM, no HTTP.

Two protocols share one engine; both are nested (whatever is fitted is fitted on training splits only):

* ``folds`` (cold start on unseen questions): for each value of ``split``, the other splits train the model
  (through the production fine-tuning pipeline, ``training.finetune.fine_tune``) and fit the calibration, and
  the held-out split is graded.
* ``feedback`` (the product's loop): as ``folds``, and in addition for each held-out question k answers get the
  teacher's grade as corrections before the rest are graded (k = 0, 2, 5, 10, 20; fixed seeds); or k of its answers
  in named training splits are the corrections, and all its held-out answers are graded.

Which splits are held out is a choice: each in turn (cross-validation), or named ones (a benchmark's test splits),
every other split training.

Every answer is graded by ``grader.scoring.grading.grade_answer``, the function the workers call: the same signals
(built by ``grader.scoring.signals.answer_signals``), calibration, guards and points.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from grader.scoring.alignment import Tokens
from grader.scoring.calibration import Calibration, Evidence, cold_design, fit_linear
from grader.scoring.calibration import feedback_features as _feedback_row
from grader.scoring.context import GradingPolicy, QuestionContext
from grader.scoring.grading import Score, grade_answer, score_signals
from grader.scoring.signals import Peers, QuestionEncoding, Signals, answer_signals, signal_columns
from grader.scoring.similarity_scale import SimilarityScale
from training.adversarial import generate as generate_adversarial
from training.metrics import agreement, binary_agreement

logger = logging.getLogger(__name__)

Encode = Callable[[list[str]], np.ndarray]
DEFAULT_KS = (0, 2, 5, 10, 20)
DEFAULT_SEEDS = (0, 1, 2)
PASS_FRACTION = 0.5
REVIEW_RISKS = (0.1, 0.2, 0.3, 0.5)  # 0.5: only the guards route
# The cold stage's terms for every calibration fitted here (grader.scoring.calibration.cold_design): quadratic,
# because what one signal is worth depends on the others (similarity, the question's, consensus, coverage).
# Chosen on half the Mohler folds and confirmed on the other half
# (docs/decisions/0003-calibrated-cold-stage.md).
COLD_TERMS = "quadratic"


@dataclass(frozen=True)
class Item:
    question_id: str
    question: str
    reference: str  # the row's own reference answer (what a training pair pairs the answer with)
    answer: str
    score: float
    max_score: float
    split: str
    # Every reference answer of the question, as the service grades against them; by default ``reference`` alone.
    references: tuple[str, ...] = ()
    row: int = 0  # the input's row number (1: the first row after the header), to join results back to it
    answer_id: str = ""  # the input's answer_id, when it has one

    def __post_init__(self) -> None:
        if not self.references:
            object.__setattr__(self, "references", (self.reference,))

    @property
    def fraction(self) -> float:
        return self.score / self.max_score


REFERENCE_SEPARATOR = "||"


def load_items(path: str | Path) -> list[Item]:
    """One item per graded answer, each with all its question's references.

    A question's references are every distinct ``reference_answer`` of its rows and every entry of an optional
    ``reference_answers`` column (a JSON list, or texts separated by ``||``), in the order they first appear. A row
    that repeats an earlier answer (same question, split, answer, score and answer_id) with a reference that answer
    was not listed with yet is that answer listed again for another reference, not another answer: it is read once.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    references: dict[str, dict[str, None]] = defaultdict(dict)  # question_id -> its references (ordered set)
    listed_with: dict[tuple, list[set[str]]] = defaultdict(list)  # an answer -> the references of each copy
    answers: list[tuple[int, dict[str, str], str]] = []
    for number, row in enumerate(rows, start=1):
        own = (row.get("reference_answer") or "").strip()
        for reference in [own, *_listed_references(row.get("reference_answers"), row=number)]:
            if reference:
                references[row["question_id"]][reference] = None
        answer = (row["question_id"], row["split"], row["student_answer"], row["score"], row["max_score"],
                  row.get("answer_id") or "")  # fmt: skip
        copies = listed_with[answer]
        copy = next((seen for seen in copies if own not in seen), None) if own else None
        if copy is not None:
            copy.add(own)
            continue
        copies.append({own})
        answers.append((number, row, own))
    missing = sorted(question_id for question_id in {row["question_id"] for _, row, _ in answers}
                     if not references[question_id])  # fmt: skip
    if missing:
        raise ValueError(f"no reference answer for question {', '.join(missing)} in {path}")
    items = []
    for number, row, own in answers:
        question_references = tuple(references[row["question_id"]])
        items.append(
            Item(
                question_id=row["question_id"],
                question=row["question"],
                reference=own or question_references[0],
                answer=row["student_answer"],
                score=float(row["score"]),
                max_score=float(row["max_score"]),
                split=row["split"],
                references=question_references,
                row=number,
                answer_id=(row.get("answer_id") or "").strip(),
            )
        )
    return items


def _listed_references(cell: str | None, *, row: int) -> list[str]:
    """The texts of a ``reference_answers`` cell: a JSON list of strings, or texts separated by ``||``."""
    cell = (cell or "").strip()
    if not cell:
        return []
    if cell.startswith("["):
        try:
            listed = json.loads(cell)
        except json.JSONDecodeError as error:
            raise ValueError(f"row {row}: reference_answers is not a JSON list ({error})") from error
        if not all(isinstance(text, str) for text in listed):
            raise ValueError(f"row {row}: reference_answers must list texts")
        return [text.strip() for text in listed]
    return [text.strip() for text in cell.split(REFERENCE_SEPARATOR)]


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
    best_reference: int = 0  # into the item's references: the closest one
    confidence_features: tuple[float, ...] = ()  # what the confidence was read from (training/confidence.py)


@dataclass
class FoldOutput:
    split: str
    predictions: list[Prediction] = field(default_factory=list)
    adversarial: list[dict] = field(default_factory=list)
    calibration: dict = field(default_factory=dict)
    # k -> the held-out questions and answers there were, and how many of them were graded at that k (a question
    # without enough answers for k corrections is not graded at k).
    coverage: dict[int, dict[str, int]] = field(default_factory=dict)


class VectorTable:
    """Text → L2-normalized vector for one model, encoded once; and its token vectors, when ``encode`` has a
    ``tokens`` method (training.protocols.CachedEncoder), for the alignment signal. Without one the similarity
    stands in for the alignment (grader.scoring.signals)."""

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

    def __getitem__(self, text: str) -> np.ndarray:
        return self._matrix[self._row[text]]

    def many(self, texts: Sequence[str]) -> np.ndarray:
        return self._matrix[[self._row[text] for text in texts]]


def _texts(items: Sequence[Item], indices: Sequence[int]) -> list[str]:
    """Every text a grade of these items needs encoded: the answer, the question and the references."""
    return [text for i in indices for text in (items[i].answer, items[i].question, *items[i].references)]


def _arrival_peers(indices: Sequence[int], vectors: np.ndarray, *, seed: int) -> dict[int, Peers]:
    """The answers that arrived earlier, as the service sees them at grading time."""
    order = np.random.default_rng(seed).permutation(len(indices))
    total = np.zeros(vectors.shape[1], dtype=np.float64)
    peers: dict[int, Peers] = {}
    for count, position in enumerate(order):
        peers[indices[position]] = Peers(total=total.copy(), count=count)
        total += vectors[position]
    return peers


def _encoding(item: Item, table: VectorTable, scale: SimilarityScale | None = None) -> QuestionEncoding:
    """The item's question with all its references, as ``table``'s model encodes them (as the service does:
    grader.scoring.context)."""
    question_tokens = table.tokens(item.question)
    return QuestionEncoding(
        prompt=item.question,
        references=item.references,
        reference_vectors=table.many(item.references),
        prompt_vector=table[item.question],
        prompt_token_ids=() if question_tokens is None else tuple(question_tokens.ids.tolist()),
        reference_tokens=table.tokens_many(item.references),
        scale=scale,
    )


def _peers(items: Sequence[Item], indices: Sequence[int], table: VectorTable, *, seed: int) -> dict[int, Peers]:
    by_question: dict[str, list[int]] = defaultdict(list)
    for index in indices:
        by_question[items[index].question_id].append(index)
    peers: dict[int, Peers] = {}
    for question_indices in by_question.values():
        answers = table.many([items[i].answer for i in question_indices])
        peers.update(_arrival_peers(question_indices, answers, seed=seed))
    return peers


def _signals(
    items: Sequence[Item], indices: Sequence[int], table: VectorTable, *, seed: int,
    scale: SimilarityScale | None = None,
) -> list[Signals]:  # fmt: skip
    peers = _peers(items, indices, table, seed=seed)
    return [
        answer_signals(
            answer=items[i].answer,
            vector=table[items[i].answer],
            tokens=table.tokens(items[i].answer),
            question=_encoding(items[i], table, scale),
            peers=peers[i],
        )
        for i in indices
    ]


def _features(items: Sequence[Item], indices: Sequence[int], table: VectorTable, *, seed: int) -> np.ndarray:
    return np.stack([signals.features for signals in _signals(items, indices, table, seed=seed)])


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
        yield _evidence(items, graded, cold_by_index, table), rest


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
    held_out: Collection[str] = (),
    corrections_from: Collection[str] = (),
) -> FoldOutput:
    """Grade ``test_split`` with ``encode``, calibrated on the other splits' vectors from ``calibration_encode``.

    ``held_out``: further splits that are graded on their own and so must not train this one either (every
    held-out split of a benchmark is graded against the same training splits).

    ``corrections_from``: training splits whose answers to a held-out question are the k corrections it gets (a
    teacher's grades of last year's answers; how benchmarks with a training split define it); every held-out
    answer is then graded. By default the k corrections are k of the held-out question's own answers.

    ``calibration_encode`` defaults to ``encode``. Pass the base model when ``encode`` is a model fine-tuned on
    the training splits: its similarities there are in-sample (it learned those very answers), so a calibration
    fitted on them learns to trust the similarity far more than it deserves on unseen answers. The deployed
    service has the same split: its calibration file is fitted once on the base model, its active version changes.

    ``map_similarity_scale`` (with a ``calibration_encode``): the fold model's similarities are put on the
    calibration model's scale before the calibration sees them, by matching quantiles over the held-out answers
    (both models encode them; no grade is used). A fine-tuned model ranks answers better than the base model but
    spreads its similarities differently, so the base-fitted calibration alone mis-scales its grades.
    """
    excluded = {test_split, *held_out}
    train = [i for i, item in enumerate(items) if item.split not in excluded]
    test_questions = sorted({item.question_id for item in items if item.split == test_split})
    if max_questions:
        test_questions = test_questions[:max_questions]
    chosen = set(test_questions)
    test = [i for i, item in enumerate(items) if item.split == test_split and item.question_id in chosen]
    questions = {items[i].question_id: (items[i].question, items[i].references[0]) for i in test}
    adversarial = generate_adversarial(questions)
    sources = set(corrections_from)
    corrections = [i for i, item in enumerate(items) if item.split in sources and item.question_id in chosen]
    table = VectorTable(
        encode,
        _texts(items, test) + _texts(items, corrections) + [case.answer for case in adversarial],
    )
    train_table = VectorTable(calibration_encode or encode, _texts(items, train))
    calibration = fit_calibration(items, train, train_table, ks=ks, seeds=seeds)
    output = FoldOutput(split=test_split, calibration=calibration.to_dict())
    scale = None
    if map_similarity_scale and calibration_encode is not None:
        calibration_table = VectorTable(calibration_encode, _texts(items, test))
        scale = SimilarityScale.fit(
            source=signal_columns(_signals(items, test, table, seed=0)),
            target=signal_columns(_signals(items, test, calibration_table, seed=0)),
        )
    test_signals = dict(zip(test, _signals(items, test, table, seed=0, scale=scale), strict=True))
    peers = _peers(items, test, table, seed=0)
    cold_by_index = {i: calibration.cold_fraction(test_signals[i].features) for i in test}
    if corrections:
        # Each correction's cold grade as the service gave it, among the other answers to its question there.
        correction_signals = _signals(items, corrections, table, seed=0, scale=scale)
        cold_by_index.update(
            (i, calibration.cold_fraction(signals.features))
            for i, signals in zip(corrections, correction_signals, strict=True)
        )
    for k in ks:
        for seed in seeds if k > 0 else seeds[:1]:
            if corrections_from:
                splits = _corrections_splits(items, test, corrections, cold_by_index, table, k=k, seed=seed)
            else:
                splits = _feedback_splits(items, test, cold_by_index, table, k=k, seed=seed)
            graded: list[int] = []
            for evidence, rest in splits:
                graded += rest
                for index in rest:
                    score = grade_item(items[index], table, calibration, evidence=evidence, peers=peers[index],
                                       scale=scale, signals=test_signals[index])  # fmt: skip
                    output.predictions.append(_prediction(score, index, items[index], k=k, seed=seed))
            if seed == seeds[0]:  # which questions have enough answers depends on k, not on the seed
                output.coverage[k] = {
                    "questions": len({items[i].question_id for i in graded}),
                    "questions_total": len(test_questions),
                    "answers": len(graded),
                    "answers_total": len(test),
                }
    output.adversarial = _grade_adversarial(items, test, adversarial, table, calibration, scale)
    return output


def _evidence(items, graded, cold_by_index, table) -> Evidence:
    """The teacher's grades of the ``graded`` answers, as the service keeps a question's corrections."""
    return Evidence(
        teacher=np.array([items[i].fraction for i in graded]),
        cold=np.array([cold_by_index[i] for i in graded]),
        vectors=table.many([items[i].answer for i in graded]),
        tokens=table.tokens_many([items[i].answer for i in graded]),
    )


def _corrections_splits(items, test, corrections, cold_by_index, table, *, k, seed):
    """For each held-out question with at least k answers in the corrections' splits: k of them the teacher graded
    (as Evidence), and all its held-out answers to grade."""
    rng = np.random.default_rng(seed)
    pool: dict[str, list[int]] = defaultdict(list)
    for index in corrections:
        pool[items[index].question_id].append(index)
    by_question: dict[str, list[int]] = defaultdict(list)
    for index in test:
        by_question[items[index].question_id].append(index)
    for question_id in sorted(by_question):
        if len(pool[question_id]) < k:
            continue
        graded = list(rng.permutation(pool[question_id]))[:k]
        if not graded:
            yield Evidence.empty(), by_question[question_id]
            continue
        yield _evidence(items, graded, cold_by_index, table), by_question[question_id]


def grade_item(
    item: Item,
    table: VectorTable,
    calibration: Calibration,
    *,
    evidence: Evidence,
    peers: Peers,
    scale: SimilarityScale | None = None,
    signals: Signals | None = None,
    policy: GradingPolicy | None = None,
) -> Score:
    """One answer graded by the workers' function, in its question's context as this protocol knows it.
    ``signals``: the answer's, when computed already (they do not depend on the evidence). ``policy``: by default
    no rounding and never routed to review here (risk 1): the review rate is computed afterwards at several risks."""
    context = QuestionContext(
        encoding=_encoding(item, table, scale),
        calibration=calibration,
        policy=policy
        or GradingPolicy(
            max_points=Decimal(str(item.max_score)), step=0.0, pass_fraction=PASS_FRACTION, review_risk=1.0
        ),
        evidence=evidence,
    )
    vector, tokens = table[item.answer], table.tokens(item.answer)
    if signals is None:
        return grade_answer(context=context, answer=item.answer, vector=vector, tokens=tokens, peers=peers)
    return score_signals(signals, context=context, answer=item.answer, vector=vector, tokens=tokens)


def _prediction(score: Score, index: int, item: Item, *, k: int, seed: int) -> Prediction:
    decision = score.decision
    return Prediction(index, k, seed, decision.fraction, decision.fraction * item.max_score, decision.confidence,
                      decision.needs_review, tuple(str(reason) for reason in decision.reasons),
                      score.signals.best_reference, decision.confidence_features)  # fmt: skip


def _grade_adversarial(items, test, cases, table, calibration, scale: SimilarityScale | None = None) -> list[dict]:
    """Each case graded as if it arrived after every real answer to its question, with no corrections yet."""
    by_question: dict[str, list[int]] = defaultdict(list)
    for index in test:
        by_question[items[index].question_id].append(index)
    results = []
    for case in cases:
        peers = table.many([items[i].answer for i in by_question[case.question_id]])
        max_score = items[by_question[case.question_id][0]].max_score
        references = items[by_question[case.question_id][0]].references  # graded against all, as the service does
        item = Item(question_id=case.question_id, question=case.question, reference=case.reference,
                    answer=case.answer, score=0.0, max_score=max_score, split="", references=references)  # fmt: skip
        decision = grade_item(item, table, calibration, evidence=Evidence.empty(),
                              peers=Peers(total=peers.sum(axis=0), count=len(peers)), scale=scale).decision  # fmt: skip
        results.append(
            {
                "kind": case.kind,
                "question_id": case.question_id,
                "answer": case.answer,
                "fraction": decision.fraction,
                "needs_review": decision.needs_review,
                "reasons": [str(reason) for reason in decision.reasons],
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
        runs: list[dict] = []
        for seed in sorted({p.seed for p in predictions if p.k == k}):
            chosen = [p for p in predictions if p.k == k and p.seed == seed]
            metrics: dict[str, Any] = dict(
                agreement(
                    predicted=[p.points for p in chosen],
                    human=[items[p.index].score for p in chosen],
                    max_score=max_score,
                )
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
    coverage: dict[int, dict[str, int]] = {}
    for output in outputs:
        for k, counts in output.coverage.items():
            total = coverage.setdefault(k, dict.fromkeys(counts, 0))
            for key, value in counts.items():
                total[key] += value
    return {
        "n_items": len({p.index for p in predictions}),
        "splits": [output.split for output in outputs],
        "per_k": per_k,
        "coverage": dict(sorted(coverage.items())),
        "per_question": _per_question(predictions, items, binary=binary),
        "adversarial": {
            "n": len(adversarial),
            "caught_rate": float(np.mean([c["caught"] for c in adversarial])) if adversarial else None,
            "by_kind": {kind: float(np.mean(values)) for kind, values in sorted(by_kind.items())},
        },
    }


def _per_question(predictions: Sequence[Prediction], items: Sequence[Item], *, binary: bool) -> list[dict]:
    """Each held-out question's cold-start grades (k = 0) against the human ones: where grader does badly."""
    by_question: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        if p.k == 0:
            by_question[items[p.index].question_id].append(p)
    rows = []
    for question_id, chosen in sorted(by_question.items()):
        human = np.array([items[p.index].score for p in chosen])
        predicted = np.array([p.points for p in chosen])
        constant = np.ptp(human) == 0 or np.ptp(predicted) == 0
        row = {
            "question_id": question_id,
            "split": items[chosen[0].index].split,
            "answers": len(chosen),
            "human_mean": float(human.mean()),
            "predicted_mean": float(predicted.mean()),
            "mae": float(np.mean(np.abs(predicted - human))),
            "rmse": float(np.sqrt(np.mean((predicted - human) ** 2))),
            "pearson": None if constant else float(np.corrcoef(predicted, human)[0, 1]),
            "routed_to_review": float(np.mean([p.needs_review for p in chosen])),
        }
        if binary:
            fractions = [items[p.index].fraction for p in chosen]
            row["accuracy"] = float(
                np.mean([(p.fraction >= 0.5) == (h >= 0.5) for p, h in zip(chosen, fractions, strict=True)])
            )
        rows.append(row)
    return rows


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
