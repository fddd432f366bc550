"""Fitting the confidence model (grader.scoring.confidence): P(pass/fail decision right | what the grader knows).

    .venv/bin/python bench/quality.py --no-docs        # Mohler held-out predictions (var/bench-quality)
    .venv/bin/python -m training.confidence            # fit → grader/scoring/confidence.json, and its held-out check

The rows are grades nothing in them was fitted on: Mohler answers graded by the folds that held them out (every k of
corrections, one seed), and the dev half of the hand-written adversarial set, graded as first answers by the
deployed pipeline. The test half is never read here. Each row carries the features the pipeline computed
(``Decision.confidence_features``), so the fit reads exactly what the workers will read.

The two sources differ in kind, not only in size: Mohler's answers are mostly honest and mostly right, the
adversarial ones are built to fool the model. ``adversarial_share`` is the share of the fit's weight the
adversarial rows carry; it is chosen by cross-fitting (Mohler by fold, the dev half by question), never on the test
half.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.scoring.calibration import pass_confidence
from grader.scoring.confidence import ARTIFACT, CONFIDENCE_FEATURE_NAMES, MAX_SPREADS, ConfidenceModel
from training.metrics import expected_calibration_error

ROOT = Path(__file__).resolve().parent.parent
PASS_FRACTION = 0.5
ADVERSARIAL_SHARES = (0.05, 0.1, 0.2, 0.3, 0.5)
REGULARIZATION = 1.0  # sklearn's C: the features are on unit-ish scales, and a few thousand rows fit eleven weights
ADVERSARIAL_GROUPS = 4  # the dev half's questions, cross-fitted in this many groups


@dataclass(frozen=True)
class ConfidenceRow:
    source: str  # "mohler" or "adversarial"
    group: str  # what is held out together: a Mohler fold, an adversarial question
    split: str  # adversarial: dev / test; Mohler: the fold
    k: int  # the question's corrections when graded
    kind: str  # adversarial: the kind of answer; Mohler: ""
    features: np.ndarray
    correct: bool  # the pass/fail decision agreed with the teacher's
    released: bool  # not routed to a teacher
    checked: bool


def _row_checked(features: np.ndarray) -> bool:
    return bool(features[CONFIDENCE_FEATURE_NAMES.index("checked")])


def mohler_rows(predictions_csv: Path, *, seed: str = "0", max_score: float = 5.0) -> list[ConfidenceRow]:
    """The held-out predictions a feedback run wrote (training/protocols.py), one seed."""
    rows = []
    with open(predictions_csv, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["seed"] != seed:
                continue
            features = np.array(json.loads(row["confidence_features"]), dtype=float)
            human, predicted = float(row["human"]) / max_score, float(row["predicted"]) / max_score
            rows.append(
                ConfidenceRow(
                    source="mohler",
                    group=row["split"],
                    split=row["split"],
                    k=int(row["k"]),
                    kind="",
                    features=features,
                    correct=(human >= PASS_FRACTION) == (predicted >= PASS_FRACTION),
                    released=row["needs_review"] in ("0", "False"),
                    checked=_row_checked(features),
                )
            )
    return rows


def adversarial_rows(cases: Sequence, scores: Sequence) -> list[ConfidenceRow]:
    """``cases`` and their ``scores`` from training.adversarial_benchmark (graded as the workers grade)."""
    return [
        ConfidenceRow(
            source="adversarial",
            group=case.question_id,
            split=case.split,
            k=0,
            kind=case.kind,
            features=np.array(score.decision.confidence_features, dtype=float),
            correct=(case.score / case.max_score >= PASS_FRACTION) == (score.decision.fraction >= PASS_FRACTION),
            released=not score.needs_review,
            checked=_row_checked(np.array(score.decision.confidence_features, dtype=float)),
        )
        for case, score in zip(cases, scores, strict=True)
    ]


def fit(rows: Sequence[ConfidenceRow], *, adversarial_share: float) -> ConfidenceModel:
    """Logistic regression of ``correct`` on the features, the adversarial rows carrying ``adversarial_share`` of the
    weight (the Mohler rows the rest, each k of corrections equally)."""
    from sklearn.linear_model import LogisticRegression

    x = np.stack([row.features for row in rows])
    y = np.array([row.correct for row in rows], dtype=int)
    weights = _weights(rows, adversarial_share=adversarial_share)
    model = LogisticRegression(C=REGULARIZATION, max_iter=2000).fit(x, y, sample_weight=weights)
    return ConfidenceModel(coef=tuple(float(c) for c in model.coef_[0]), intercept=float(model.intercept_[0]))


def _weights(rows: Sequence[ConfidenceRow], *, adversarial_share: float) -> np.ndarray:
    sources = np.array([row.source for row in rows])
    ks = np.array([row.k for row in rows])
    weights = np.zeros(len(rows))
    adversarial = sources == "adversarial"
    mohler = ~adversarial
    if adversarial.any():
        weights[adversarial] = (adversarial_share if mohler.any() else 1.0) / adversarial.sum()
    levels = np.unique(ks[mohler])
    for k in levels:
        members = mohler & (ks == k)
        weights[members] = (1.0 - adversarial_share if adversarial.any() else 1.0) / len(levels) / members.sum()
    return weights * len(rows)  # mean weight 1: the regularization means the same whatever the weighting


def cross_fitted(rows: Sequence[ConfidenceRow], *, adversarial_share: float) -> np.ndarray:
    """Each row's confidence from a model fitted without its group (a Mohler fold, or a group of dev questions)."""
    groups = np.array([_cross_group(row) for row in rows])
    confidence = np.zeros(len(rows))
    for group in np.unique(groups):
        held_out = groups == group
        model = fit([row for row, out in zip(rows, held_out, strict=True) if not out],
                    adversarial_share=adversarial_share)  # fmt: skip
        for index in np.flatnonzero(held_out):
            row = rows[int(index)]
            confidence[index] = model.confidence(row.features, checked=row.checked)
    return confidence


def _cross_group(row: ConfidenceRow) -> str:
    if row.source == "mohler":
        return f"mohler:{row.group}"
    digest = sum(ord(character) for character in row.group)  # stable across runs, unlike hash()
    return f"adversarial:{digest % ADVERSARIAL_GROUPS}"


def distance_confidence(features: np.ndarray) -> float:
    """The confidence before this model: the normal error model's, from the distance in residual spreads."""
    spreads = float(features[CONFIDENCE_FEATURE_NAMES.index("margin_in_spread")])
    # The features cap the distance at MAX_SPREADS; the normal model was all but certain there.
    return 1.0 if spreads >= MAX_SPREADS else pass_confidence(fraction=spreads, pass_fraction=0.0, std=1.0)


def reliability(confidence: Sequence[float], correct: Sequence[bool]) -> dict:
    """ECE and its bins, and how often the released answers stated at >= 0.9 are wrong."""
    ece, bins = expected_calibration_error(confidence=confidence, correct=correct)
    confident = [ok for value, ok in zip(confidence, correct, strict=True) if value >= 0.9]
    return {
        "n": len(confidence),
        "ece": ece,
        "ece_if_calibrated": ece_if_calibrated(confidence),
        "bins": bins,
        "accuracy": float(np.mean(correct)) if len(correct) else None,
        "mean_confidence": float(np.mean(confidence)) if len(confidence) else None,
        "confident": len(confident),
        "confident_wrong": float(1.0 - np.mean(confident)) if confident else None,
    }


def ece_if_calibrated(confidence: Sequence[float], *, draws: int = 500) -> float | None:
    """The median ECE a perfectly calibrated confidence would show on this many answers (outcomes drawn with the
    stated probabilities): below it, an ECE is noise, not miscalibration."""
    if not len(confidence):
        return None
    rng = np.random.default_rng(0)
    values = np.asarray(confidence, dtype=float)
    samples = [
        expected_calibration_error(confidence=values.tolist(), correct=(rng.random(len(values)) < values).tolist())[0]
        for _ in range(draws)
    ]
    return float(np.median([sample for sample in samples if sample is not None]))


def choose_share(rows: Sequence[ConfidenceRow], shares: Sequence[float] = ADVERSARIAL_SHARES) -> tuple[float, dict]:
    """The adversarial share whose cross-fitted confidence is best calibrated on the worse of the two sources
    (released answers; Mohler at k = 0 and 10 together)."""
    table = {}
    for share in shares:
        confidence = cross_fitted(rows, adversarial_share=share)
        table[share] = {
            source: reliability(*_released(rows, confidence, source=source)) for source in ("mohler", "adversarial")
        }
    best = min(shares, key=lambda share: max(table[share][source]["ece"] for source in table[share]))
    return best, table


def _released(rows: Sequence[ConfidenceRow], confidence: np.ndarray, *, source: str, ks: Sequence[int] = (0, 10)):
    chosen = [i for i, row in enumerate(rows) if row.source == source and row.released
              and (source != "mohler" or row.k in ks)]  # fmt: skip
    return [float(confidence[i]) for i in chosen], [rows[i].correct for i in chosen]


def grade_adversarial(csv_path: Path) -> tuple[list, list]:
    """The hand-written set graded as `manage.py evaluate --protocol adversarial` grades it (base model, deployed
    calibration and checks)."""
    import django

    django.setup()
    from decimal import Decimal

    from grader.scoring.context import GradingPolicy, calibration_for
    from grader.scoring.model import base_model_path, load_model
    from training import adversarial_benchmark

    cases = adversarial_benchmark.load_cases(csv_path)
    model = load_model(path=base_model_path(), keep=False)
    policy = GradingPolicy.defaults(max_points=Decimal(1))
    scores = adversarial_benchmark.grade_cases(cases, model=model, calibration=calibration_for(), policy=policy)
    return cases, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mohler-predictions", type=Path,
                        default=ROOT / "var" / "bench-quality" / "feedback_predictions.csv")  # fmt: skip
    parser.add_argument("--adversarial", type=Path, default=ROOT / "bench" / "adversarial" / "answers.csv")
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    args = parser.parse_args()

    mohler = mohler_rows(args.mohler_predictions)
    cases, scores = grade_adversarial(args.adversarial)
    dev = [row for row in adversarial_rows(cases, scores) if row.split == "dev"]  # never the test half
    rows = mohler + dev
    share, table = choose_share(rows)
    for value, sources in table.items():
        print(f"adversarial share {value}: " + ", ".join(
            f"{source} ECE {result['ece']:.3f}, wrong at >= 0.9 {_fmt(result['confident_wrong'])} "
            f"({result['confident']})" for source, result in sources.items()))  # fmt: skip
    model = fit(rows, adversarial_share=share)
    model = ConfidenceModel(
        coef=model.coef,
        intercept=model.intercept,
        meta={
            "fitted_on": {
                "mohler": f"{len(mohler)} held-out grades ({args.mohler_predictions.name}, seed 0, every k)",
                "adversarial": f"{len(dev)} answers of the dev half of {args.adversarial.name}",
            },
            "adversarial_share": share,
            "cross_fitted": {
                source: {key: value for key, value in result.items() if key != "bins"}
                for source, result in table[share].items()
            },
        },
    )
    args.out.write_text(json.dumps(model.to_dict(), indent=2) + "\n", encoding="utf-8")
    print(f"adversarial share {share}; written {args.out}")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grader.settings")
    main()
