"""A reduced semester replay: does retraining on teachers' corrections make the next assignment's grades better?

    GRADER_INFERENCE_BACKEND=torch .venv/bin/python bench/semester.py --csv MOHLER_CSV [--assignments 4] [--k 5]

Mohler's assignments (the ``split`` column, fold_01 ... fold_12) arrive in order. Each assignment is graded by
the version each policy has active, through the workers' grading function (training.evaluate.held_out_grades);
then k answers per question of it become teacher corrections, and a retrain (the seed pairs plus every
correction so far, the service's held-out split, one epoch by default) produces a candidate. Three policies on
the same stream: never retrain, retrain with the gate (training.gate.gate_verdict on the held-out corrections),
retrain and always promote. Per assignment: RMSE, Pearson and pass/fail accuracy of each policy, and the paired
bootstrap interval of the RMSE gain over "never" (positive: better than never retraining).

Reduced against the service: the base model is the packaged one (not fine-tuned on the seed pairs first), no
similarity scale is fitted, and no database is involved; grading and gate are the service's own functions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grader.settings")

POLICIES = ("never", "gate", "always")
METRICS = ("rmse", "pearson", "pass_fail_accuracy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, required=True, help="Mohler in the evaluate CSV format")
    parser.add_argument("--assignments", type=int, default=4, help="replay the first N assignments")
    parser.add_argument("--k", type=int, default=5, help="corrections per question of each graded assignment")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from grader.scoring.model import base_model_path, load_model
    from grader.services.model_versions import gate_rule
    from training.dataset import Pair, build_training_set, load_pairs_csv, split_held_out
    from training.evaluate import held_out_grades
    from training.evaluation import load_items
    from training.finetune import Hyperparameters, fine_tune
    from training.gate import HeldOutGrades, gate_verdict, grade_metrics, paired_bootstrap

    rule = gate_rule()
    by_assignment: dict[str, list[Pair]] = defaultdict(list)
    for item in load_items(args.csv):
        by_assignment[item.split].append(
            Pair(item.answer, item.reference, item.score / item.max_score, question=item.question_id,
                 max_points=item.max_score, prompt=item.question, references=item.references)
        )  # fmt: skip
    assignments = sorted(by_assignment)[: args.assignments]
    seed = load_pairs_csv(settings.GRADER_SEED_PAIRS)
    hyperparameters = Hyperparameters(epochs=args.epochs, seed=settings.GRADER_TRAIN_SEED)
    scratch = Path(tempfile.mkdtemp(prefix="semester-"))
    active = {policy: str(base_model_path()) for policy in POLICIES}
    corrections: list[Pair] = []
    rows, decisions = [], []
    started = time.monotonic()
    loaded: dict[str, object] = {}

    def model_at(path: str):
        # One load per version directory: the policies often share a version.
        if path not in loaded:
            loaded[path] = load_model(path=path, keep=False)
        return loaded[path]

    try:
        for number, assignment in enumerate(assignments, start=1):
            pairs = by_assignment[assignment]
            human = [pair.label * pair.max_points for pair in pairs]
            maxima = [pair.max_points for pair in pairs]
            points = {}
            for policy in POLICIES:
                if policy != "never" and active[policy] == active["never"]:
                    points[policy] = points["never"]  # the same version grades the same answers the same way
                    continue
                model = model_at(active[policy])
                points[policy] = [float(score.points) for score in held_out_grades(pairs=pairs, model=model)]
            row = {"assignment": assignment, "n": len(pairs)}
            for policy in POLICIES:
                row[policy] = grade_metrics(predicted=points[policy], human=human, max_points=maxima,
                                            pass_fraction=rule.pass_fraction)  # fmt: skip
                if policy != "never":
                    versus = HeldOutGrades(human, maxima, points[policy], points["never"])
                    row[f"{policy}_gain"] = paired_bootstrap(versus, rule=rule)["rmse"]
            rows.append(row)
            print(_row_line(row), flush=True)
            if number == len(assignments):
                break
            taken: dict[str, int] = defaultdict(int)
            for pair in pairs:  # file order stands for arrival order
                if taken[pair.question] < args.k:
                    taken[pair.question] += 1
                    corrections.append(pair)
            split = split_held_out(
                build_training_set(corrections=corrections, seed_pairs=seed),
                question_fraction=settings.GRADER_HELD_OUT_QUESTION_FRACTION,
                answer_fraction=settings.GRADER_HELD_OUT_ANSWER_FRACTION,
                seed=settings.GRADER_HELD_OUT_SEED,
            )
            held_out = [pair for pair in split.held_out if pair.prompt]  # the seed pairs carry no question text
            trained: dict[str, str] = {}
            for policy in ("gate", "always"):
                if active[policy] not in trained:
                    output = scratch / f"{policy}-{number}"
                    fine_tune(base_model_dir=active[policy], pairs=split.train, output_dir=output,
                              hyperparameters=hyperparameters)  # fmt: skip
                    trained[active[policy]] = str(output)
                candidate = trained[active[policy]]
                if policy == "always":
                    active[policy] = candidate
                    continue
                grades = HeldOutGrades(
                    human=[pair.label * pair.max_points for pair in held_out],
                    max_points=[pair.max_points for pair in held_out],
                    candidate=[float(s.points) for s in held_out_grades(pairs=held_out, model=model_at(candidate))],
                    replaced=[float(s.points) for s in held_out_grades(pairs=held_out, model=model_at(active[policy]))],
                )  # fmt: skip
                decision = gate_verdict(grades=grades, rule=rule)
                decisions.append((assignment, len(corrections), decision["reason"]))
                print(f"  after {assignment} ({len(corrections)} corrections): {decision['reason']}", flush=True)
                if decision["promote"]:
                    active[policy] = candidate
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(_report(rows, decisions, args=args, minutes=(time.monotonic() - started) / 60))


def _row_line(row: dict) -> str:
    cells = ", ".join(f"{policy} RMSE {row[policy]['rmse']:.3f}" for policy in POLICIES)
    return f"{row['assignment']} ({row['n']} answers): {cells}"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _report(rows: list[dict], decisions: list[tuple], *, args: argparse.Namespace, minutes: float) -> str:
    lines = [
        f"Semester replay (reduced): {len(rows)} assignments, k = {args.k} corrections per question, "
        f"{args.epochs} epoch(s) per retrain, {minutes:.0f} min.",
        "",
        "| assignment | answers | RMSE never / gate / always | Pearson never / gate / always "
        "| pass/fail acc. never / gate / always | RMSE gain vs never: gate | always |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        metric = {name: " / ".join(_fmt(row[p][name]) for p in POLICIES) for name in METRICS}
        gains = [
            f"{g['improvement']:+.3f} ({g['low']:+.3f} to {g['high']:+.3f})"
            for g in (row["gate_gain"], row["always_gain"])
        ]
        lines.append(f"| {row['assignment']} | {row['n']} | {metric['rmse']} | {metric['pearson']} | "
                     f"{metric['pass_fail_accuracy']} | {gains[0]} | {gains[1]} |")  # fmt: skip
    lines += ["", "Gate decisions:", ""]
    lines += [f"- after {assignment} ({count} corrections): {reason}" for assignment, count, reason in decisions]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
