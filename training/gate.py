"""The promotion gate's rule: does a candidate grade the held-out answers better than the version it would replace,
by more than chance, without getting worse elsewhere? Plain numbers in, a decision out (no ORM, no model).

Both versions' grades are the points the workers would give (training.evaluate.held_out_grades), so the gate
judges the grader as deployed. A paired bootstrap over the held-out answers (the same resampled answers for both
versions) gives an interval for each metric's improvement; a small held-out set gives a wide interval, and a
candidate whose interval for the primary metric reaches zero is not promoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

GATE_METRICS = ("rmse", "pearson", "pass_fail_accuracy")
HIGHER_IS_BETTER = {"rmse": False, "pearson": True, "pass_fail_accuracy": True}
LABELS = {"rmse": "RMSE", "pearson": "Pearson", "pass_fail_accuracy": "pass/fail accuracy"}
# Fixed: the same evaluation always gives the same decision.
BOOTSTRAP_SEED = 12345


@dataclass(frozen=True)
class HeldOutGrades:
    """Per held-out answer: the teacher's points, the question's maximum, and each version's points."""

    human: Sequence[float]
    max_points: Sequence[float]
    candidate: Sequence[float]
    replaced: Sequence[float]

    def as_dict(self) -> dict[str, list[float]]:
        return {
            "human": [float(x) for x in self.human],
            "max_points": [float(x) for x in self.max_points],
            "candidate": [float(x) for x in self.candidate],
            "replaced": [float(x) for x in self.replaced],
        }

    @classmethod
    def from_dict(cls, data: dict) -> HeldOutGrades:
        return cls(human=data["human"], max_points=data["max_points"], candidate=data["candidate"],
                   replaced=data["replaced"])  # fmt: skip


@dataclass(frozen=True)
class GateRule:
    primary: str = "rmse"  # the metric whose improvement must be real
    tolerance: float = 0.02  # allowed loss on the others: absolute for Pearson and accuracy, relative for RMSE
    resamples: int = 2000
    confidence: float = 0.95
    pass_fraction: float = 0.5
    # Below this many held-out answers a percentile bootstrap is too optimistic to tell a gain from chance.
    min_answers: int = 20


def _metrics(predicted: np.ndarray, human: np.ndarray, max_points: np.ndarray, pass_fraction: float) -> dict:
    """Each metric along the last axis: one value per row of a (resamples, answers) array, or one for a vector."""
    rmse = np.sqrt(np.mean((predicted - human) ** 2, axis=-1))
    p = predicted - predicted.mean(axis=-1, keepdims=True)
    h = human - human.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((p**2).sum(axis=-1) * (h**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        # A constant series has no correlation: NaN here, None in the report.
        pearson = np.where(denominator > 0, (p * h).sum(axis=-1) / np.where(denominator > 0, denominator, 1), np.nan)
    passed = predicted / max_points >= pass_fraction
    human_passed = human / max_points >= pass_fraction
    accuracy = np.mean(passed == human_passed, axis=-1)
    return {"rmse": rmse, "pearson": pearson, "pass_fail_accuracy": accuracy}


def _number(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def grade_metrics(*, predicted: Sequence[float], human: Sequence[float], max_points: Sequence[float],
                  pass_fraction: float) -> dict[str, float | None]:  # fmt: skip
    """RMSE and Pearson in points, and the share of answers on the teacher's side of the pass mark."""
    values = _metrics(np.asarray(predicted, float), np.asarray(human, float), np.asarray(max_points, float),
                      pass_fraction)  # fmt: skip
    return {"n": len(human), **{name: _number(value) for name, value in values.items()}}


def paired_bootstrap(grades: HeldOutGrades, *, rule: GateRule) -> dict[str, dict[str, Any]]:
    """Each metric's improvement (positive: the candidate is better) with its bootstrap percentile interval,
    resampling held-out answers with replacement, the same answers for both versions; and each version's own
    interval for the metric (``candidate``, ``replaced``: [low, high])."""
    human = np.asarray(grades.human, float)
    max_points = np.asarray(grades.max_points, float)
    candidate = np.asarray(grades.candidate, float)
    replaced = np.asarray(grades.replaced, float)
    rows = np.random.default_rng(BOOTSTRAP_SEED).integers(0, len(human), size=(rule.resamples, len(human)))
    on_candidate = _metrics(candidate[rows], human[rows], max_points[rows], rule.pass_fraction)
    on_replaced = _metrics(replaced[rows], human[rows], max_points[rows], rule.pass_fraction)
    point_candidate = _metrics(candidate, human, max_points, rule.pass_fraction)
    point_replaced = _metrics(replaced, human, max_points, rule.pass_fraction)
    tail = (1 - rule.confidence) / 2 * 100
    result = {}
    for name in GATE_METRICS:
        sign = 1.0 if HIGHER_IS_BETTER[name] else -1.0
        gains = sign * (on_candidate[name] - on_replaced[name])
        gains = gains[np.isfinite(gains)]
        low, high = np.percentile(gains, [tail, 100 - tail]) if len(gains) else (np.nan, np.nan)
        result[name] = {
            "improvement": _number(sign * (point_candidate[name] - point_replaced[name])),
            "low": _number(low),
            "high": _number(high),
            # Each version's own metric over the same resamples: how sure its value is, for showing side by side.
            "candidate": _percentiles(on_candidate[name], tail),
            "replaced": _percentiles(on_replaced[name], tail),
        }
    return result


def _percentiles(values: np.ndarray, tail: float) -> list[float | None]:
    values = values[np.isfinite(values)]
    if not len(values):
        return [None, None]
    low, high = np.percentile(values, [tail, 100 - tail])
    return [_number(low), _number(high)]


def gate_verdict(*, grades: HeldOutGrades, rule: GateRule, adversarial: dict | None = None) -> dict:
    """Promote only if the primary metric's interval lies above zero, no other metric loses more than the
    tolerance, and (when the adversarial benchmark ran) the candidate catches no fewer answers built to fool it.

    Returns the numbers that decided and a one-sentence reason a teacher can read."""
    candidate = grade_metrics(predicted=grades.candidate, human=grades.human, max_points=grades.max_points,
                              pass_fraction=rule.pass_fraction)  # fmt: skip
    replaced = grade_metrics(predicted=grades.replaced, human=grades.human, max_points=grades.max_points,
                             pass_fraction=rule.pass_fraction)  # fmt: skip
    intervals = paired_bootstrap(grades, rule=rule)
    decision = {
        "primary": rule.primary,
        "candidate": candidate,
        "replaced": replaced,
        "intervals": intervals,
        "confidence": rule.confidence,
        "resamples": rule.resamples,
        "tolerance": rule.tolerance,
        "pass_fraction": rule.pass_fraction,
        "adversarial": adversarial,
    }
    n = len(grades.human)
    if n < rule.min_answers:
        answers = "1 answer teachers corrected was" if n == 1 else f"{n} answers teachers corrected were"
        reason = (f"Not activated: only {answers} kept out of its training to test it; at least "
                  f"{rule.min_answers} are needed to tell a real improvement from chance.")  # fmt: skip
        return {**decision, "promote": False, "reason": reason}
    primary = intervals[rule.primary]
    label = LABELS[rule.primary]
    shown = f"{label} {_fmt(candidate[rule.primary])} vs {_fmt(replaced[rule.primary])}"
    unseen = f"on {n} answers teachers corrected and it never saw"
    if primary["low"] is None or primary["low"] <= 0:
        if primary["improvement"] is None or primary["improvement"] <= 0:
            reason = f"Not activated: {unseen}, it was no closer to the teachers' points ({shown})."
        else:
            reason = (f"Not activated: {unseen}, it was not reliably closer to the teachers' points ({shown}; "
                      "the difference could be chance).")  # fmt: skip
        return {**decision, "promote": False, "reason": reason}
    for name in GATE_METRICS:
        if name == rule.primary:
            continue
        gain = intervals[name]["improvement"]
        allowed = rule.tolerance * (replaced[name] or 0.0) if name == "rmse" else rule.tolerance
        if gain is None or gain < -allowed:
            reason = (f"Not activated: {unseen}, its points were closer to the teachers' ({shown}) but its "
                      f"{LABELS[name]} got worse ({_fmt(candidate[name])} vs {_fmt(replaced[name])}).")  # fmt: skip
            return {**decision, "promote": False, "reason": reason}
    if adversarial and adversarial.get("candidate") is not None and adversarial.get("replaced") is not None:
        if adversarial["candidate"] < adversarial["replaced"]:
            reason = (f"Not activated: it lets more answers built to fool the grader through (it catches "
                      f"{adversarial['candidate']:.0%} vs {adversarial['replaced']:.0%} of the adversarial "
                      "benchmark's dev half).")  # fmt: skip
            return {**decision, "promote": False, "reason": reason}
    others = ", ".join(
        f"{LABELS[name]} {_fmt(candidate[name])} vs {_fmt(replaced[name])}" for name in GATE_METRICS
        if name != rule.primary
    )  # fmt: skip
    interval = f"{rule.confidence:.0%} interval of the gain {_fmt(primary['low'])} to {_fmt(primary['high'])}"
    reason = f"Activated: {unseen}, its points are closer to the teachers' ({shown}; {interval}; {others})."
    return {**decision, "promote": True, "reason": reason}


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"
