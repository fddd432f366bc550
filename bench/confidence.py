"""Is the confidence honest? Reliability of the released grades' confidence → docs/BENCHMARKS.md + docs/confidence.png.

    .venv/bin/python bench/quality.py --no-docs      # first: Mohler held-out predictions (var/bench-quality)
    .venv/bin/python bench/confidence.py             # ≈ 2 min: grades the adversarial set, writes the docs block
    .venv/bin/python bench/confidence.py --no-docs   # print only

Confidence is the probability that a grade's pass/fail decision is the teacher's (grader/scoring/confidence.py).
Measured on answers its fit never saw:
* the adversarial set's **test half**, graded by the deployed pipeline (base model, shipped calibration, checks and
  confidence): the confidence is the one the workers would state;
* Mohler's held-out folds (k = 0 and k = 10 corrections): the grades of bench/quality.py, each fold's confidence
  from a model fitted as training/confidence.py fits the shipped one but without that fold's answers (the shipped
  fit saw every fold).
"Before" is the distance from the pass mark in units of the calibration's residual spread, on the same grades.
Writes only between <!-- confidence:start --> and <!-- confidence:end -->.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grader.settings")

from grader.scoring.confidence import shipped_confidence_model  # noqa: E402
from training.confidence import (  # noqa: E402
    ConfidenceRow,
    adversarial_rows,
    cross_fitted,
    distance_confidence,
    grade_adversarial,
    mohler_rows,
    reliability,
)

DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- confidence:start -->", "<!-- confidence:end -->"
PLOT = ROOT / "docs" / "confidence.png"
TARGETS = {"ece": 0.05, "confident_wrong": 0.10}


def measure(mohler: list[ConfidenceRow], adversarial: list[ConfidenceRow], shipped: list[float]) -> dict:
    """Before/after reliability of the released grades on each held-out set."""
    share = (shipped_confidence_model().meta or {}).get("adversarial_share")
    if share is None:
        raise SystemExit("grader/scoring/confidence.json has no adversarial_share: refit it (training/confidence.py)")
    dev = [row for row in adversarial if row.split == "dev"]
    # Each Mohler fold's confidence from a fit without it (the dev half is in every fit, as in the shipped one).
    held_out = cross_fitted(mohler + dev, adversarial_share=share)[: len(mohler)]
    sets = {}
    for k in (0, 10):
        chosen = [i for i, row in enumerate(mohler) if row.k == k and row.released]
        sets[f"Mohler held-out folds, k = {k}"] = (
            [mohler[i] for i in chosen],
            [float(held_out[i]) for i in chosen],
        )
    for split, label in (("test", "adversarial test half"), ("dev", "adversarial dev half (fitted on: in-sample)")):
        chosen = [i for i, row in enumerate(adversarial) if row.split == split and row.released]
        sets[label] = ([adversarial[i] for i in chosen], [shipped[i] for i in chosen])
    results = {}
    for label, (rows, after) in sets.items():
        correct = [row.correct for row in rows]
        results[label] = {
            "before": reliability([distance_confidence(row.features) for row in rows], correct),
            "after": reliability(after, correct),
        }
    return {"adversarial_share": share, "sets": results}


def markdown(summary: dict) -> str:
    lines = [
        "| released grades of | answers | pass/fail right | ECE before | ECE after | ECE a calibrated confidence "
        "would show (noise) | wrong at >= 0.9 before | wrong at >= 0.9 after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, result in summary["sets"].items():
        before, after = result["before"], result["after"]
        lines.append(
            f"| {label} | {after['n']} | {_percent(after['accuracy'])} | {_number(before['ece'])} | "
            f"{_number(after['ece'])} | {_number(after['ece_if_calibrated'])} | "
            f"{_percent(before['confident_wrong'])} of {before['confident']} | "
            f"{_percent(after['confident_wrong'])} of {after['confident']} |"
        )
    lines += [
        "",
        f"Targets: ECE <= {TARGETS['ece']}, wrong at >= 0.9 <= {TARGETS['confident_wrong']:.0%} (test half and "
        f"Mohler). The fit weighs the adversarial dev half at {summary['adversarial_share']:.0%} of the rows "
        "(chosen by cross-fitting, training/confidence.py). Mohler's \"after\" is cross-fitted: each fold's "
        "confidence from a fit without that fold. Noise: the median ECE of outcomes drawn with the stated "
        "after-confidences themselves, on as many answers: an ECE near it is sampling noise, not miscalibration.",
    ]
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, moment in zip(axes, ("before", "after"), strict=True):
        axis.plot([0.5, 1.0], [0.5, 1.0], color="grey", linestyle="--", label="perfectly calibrated")
        for label, result in summary["sets"].items():
            if "in-sample" in label:
                continue
            bins = [b for b in result[moment]["bins"] if b["n"]]
            axis.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", markersize=4,
                      label=f"{label} (ECE {result[moment]['ece']:.3f})")  # fmt: skip
        axis.set_xlabel("stated confidence (released grades, 10 bins)")
        axis.set_title("distance from the pass mark" if moment == "before" else "fitted confidence model")
        axis.set_xlim(0.48, 1.01)
        axis.set_ylim(0.0, 1.02)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("pass/fail decision right")
    figure.suptitle("Reliability of the confidence on held-out grades")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mohler-predictions", type=Path,
                        default=ROOT / "var" / "bench-quality" / "feedback_predictions.csv")  # fmt: skip
    parser.add_argument("--adversarial", type=Path, default=ROOT / "bench" / "adversarial" / "answers.csv")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-confidence")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    if not args.mohler_predictions.exists():
        raise SystemExit(f"{args.mohler_predictions} is missing: run `python bench/quality.py --no-docs` first")

    mohler = mohler_rows(args.mohler_predictions)
    cases, scores = grade_adversarial(args.adversarial)
    summary = measure(mohler, adversarial_rows(cases, scores), [score.confidence for score in scores])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "confidence.json").write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = (
        f"Run finished {finished} on {platform.machine()} ({os.cpu_count()} cores), `python bench/confidence.py` "
        f"(Mohler grades from `{args.mohler_predictions.name}`, {len({row.group for row in mohler})} folds).\n\n"
        + markdown(summary)
        + "\n![reliability before and after](confidence.png)\n"
    )
    print(text)
    if args.no_docs:
        return
    plot(summary, PLOT)
    document = DOC.read_text(encoding="utf-8")
    if START not in document:
        document = document.replace(
            "## Grading quality\n",
            f"## Confidence: is the pass/fail decision right?\n\n{START}\n{END}\n\n## Grading quality\n",
            1,
        )
    start, end = document.index(START) + len(START), document.index(END)
    DOC.write_text(document[:start] + "\n" + text + document[end:], encoding="utf-8")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
