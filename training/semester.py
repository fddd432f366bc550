"""The semester replay: does the learning loop, as deployed, make the next assignment's grades better?

A course is replayed in time order on a real database: its assignments (the CSV's ``split`` column, in sorted
order: on Mohler fold_01 ... fold_10 and the two exams) arrive one after the other. Each assignment's answers are
submitted and graded by the workers' own grading function (``submissions_grade_batch``) with whatever version is
active; then k answers per question (the first k in file order) receive the human grade as a teacher correction
(``correction_create``), and the retrain runs through the real ``model_retrain``, its gate included. Three
policies on the same stream, each starting from the same active version:

- ``never``: no retraining;
- ``gate``: ``model_retrain``, the gate decides;
- ``always``: ``model_retrain``, and a candidate the gate rejected is activated anyway (as an operator's
  *Activate* action would).

The replay switches the active version and writes submissions, so it refuses a database that holds any
submission already: run it on a scratch database. It leaves the versions it trained (retired or rejected) and the
last policy's training runs, deletes its course, and re-activates the version it started from.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from training.dataset import TrainingRecipe
from training.evaluation import Item, load_items
from training.finetune import Hyperparameters
from training.gate import GATE_METRICS, HeldOutGrades, grade_metrics, paired_bootstrap

logger = logging.getLogger(__name__)

POLICIES = ("never", "gate", "always")
POLICY_LABELS = {"never": "never retrain", "gate": "retrain with the gate", "always": "retrain, always promote"}
COURSE_CODE = "semester-replay"
TRIGGER = "semester-replay"


@dataclass(frozen=True)
class SemesterOptions:
    k: int = 5
    assignments: int | None = None  # the first N only (a quick look)
    hyperparameters: Hyperparameters | None = None  # None: the deployment's (GRADER_TRAIN_*)
    recipe: TrainingRecipe | None = None  # None: the default (training.dataset.TrainingRecipe)
    policies: Sequence[str] = POLICIES


def assignments_in_order(items: Sequence[Item], limit: int | None = None) -> list[tuple[str, list[Item]]]:
    by_split: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_split[item.split].append(item)
    ordered = sorted(by_split.items())
    return ordered[:limit] if limit else ordered


def run_semester(
    *, csv_path: Path, out_dir: Path, options: SemesterOptions, progress: Callable[[str], None] = print
) -> dict:
    """Replay the course for each policy and write ``semester.json``, ``semester.md`` and ``semester.png``."""
    from django.contrib.auth import get_user_model

    from grader.models import Submission, TrainingRun
    from grader.services.model_versions import model_version_activate, model_version_bootstrap

    if Submission.objects.exists():
        raise RuntimeError(
            "the semester replay switches the active version and adds submissions: run it on a scratch database "
            "(this one already holds submissions)"
        )
    schedule = assignments_in_order(load_items(csv_path), options.assignments)
    start = model_version_bootstrap()  # the active version, or the first one trained on the seed pairs
    teacher, _ = get_user_model().objects.get_or_create(username="semester-replay-teacher")
    started = time.monotonic()
    results: dict[str, dict] = {}
    try:
        for policy in options.policies:
            # Each policy is a deployment's own history: the previous policy's runs would make this one's first
            # retrain look like "nothing new" (same base, same corrections) and count its corrections as old.
            TrainingRun.objects.filter(trigger=TRIGGER).delete()
            model_version_activate(version=start)
            results[policy] = _replay(policy=policy, schedule=schedule, teacher=teacher, options=options,
                                      progress=progress)  # fmt: skip
            _course_delete()
            # After each policy: a replay stopped later still leaves the policies it finished.
            write_report(_summarize(results, schedule=schedule, start=start.name, options=options,
                                    minutes=(time.monotonic() - started) / 60), out_dir)  # fmt: skip
    finally:
        _course_delete()
        model_version_activate(version=start)
    summary = _summarize(results, schedule=schedule, start=start.name, options=options,
                         minutes=(time.monotonic() - started) / 60)  # fmt: skip
    write_report(summary, out_dir)
    return summary


def _course_delete() -> None:
    from grader.models import Correction, Course, Question, ReferenceAnswer, Submission

    course = Course.objects.filter(code=COURSE_CODE).first()
    if course is None:
        return
    Correction.objects.filter(submission__question__course=course).delete()
    Submission.objects.filter(question__course=course).delete()
    ReferenceAnswer.objects.filter(question__course=course).delete()
    Question.objects.filter(course=course).delete()
    course.delete()


def _replay(*, policy: str, schedule, teacher, options: SemesterOptions, progress) -> dict:
    from grader.models import ModelVersion, Submission, TrainingRun
    from grader.selectors import model_version_active
    from grader.services.courses import course_create, question_create
    from grader.services.model_versions import model_retrain, model_version_activate
    from grader.services.submissions import correction_create, submission_create, submissions_grade_batch

    course = course_create(code=COURSE_CODE, name="Semester replay")
    questions = {}
    rows, decisions = [], []
    for number, (assignment, items) in enumerate(schedule, start=1):
        for item in items:
            if item.question_id not in questions:
                questions[item.question_id] = question_create(
                    course=course,
                    key="q" + item.question_id.replace(".", "-"),
                    prompt=item.question,
                    max_points=Decimal(str(item.max_score)),
                    reference_answers=list(item.references),
                )
        submissions = [
            submission_create(question=questions[item.question_id], student_ref=f"{assignment}-{index}",
                              answer=item.answer, enqueue=False)[0]
            for index, item in enumerate(items)
        ]  # fmt: skip
        version = model_version_active()
        if version is None:
            raise RuntimeError("no active model version to grade with")
        # The workers' grading function, in this process: claim queued submissions in batches until none is left.
        while (queued := Submission.objects.filter(status=Submission.Status.QUEUED).order_by("pk").first()) is not None:
            submissions_grade_batch(submission_id=queued.pk)
        graded = Submission.objects.in_bulk([s.pk for s in submissions])
        predicted = [float(points) if (points := graded[s.pk].points) is not None else 0.0 for s in submissions]
        rows.append({
            "assignment": assignment,
            "answers": len(items),
            "questions": len({item.question_id for item in items}),
            "version": version.name,
            "human": [item.score for item in items],
            "max_points": [item.max_score for item in items],
            "predicted": predicted,
        })  # fmt: skip
        progress(f"{policy}: {assignment} graded by {version.name}")
        if number == len(schedule):
            break
        taken: dict[str, int] = defaultdict(int)
        for item, submission in zip(items, submissions, strict=True):
            if taken[item.question_id] < options.k:
                taken[item.question_id] += 1
                correction_create(submission=submission, teacher=teacher, points=Decimal(str(item.score)))
        if policy == "never":
            continue
        run = model_retrain(hyperparameters=options.hyperparameters, recipe=options.recipe, trigger=TRIGGER)
        produced = run.produced_version
        decision = {
            "after": assignment,
            "corrections": _corrections_count(),
            "status": run.status,
            "reason": run.reason,
            "version": produced.name if produced else None,
        }
        if produced is not None:
            produced.refresh_from_db()
            decision["activated_by_gate"] = produced.status == ModelVersion.Status.ACTIVE
            decision["held_out_answers"] = (produced.evaluation or {}).get("held_out_size", 0)
            if policy == "always" and produced.status != ModelVersion.Status.ACTIVE:
                model_version_activate(version=produced)
        elif run.status == TrainingRun.Status.SKIPPED:
            decision["activated_by_gate"] = False
        decisions.append(decision)
        progress(f"{policy}: after {assignment}: {run.reason}")
    return {"rows": rows, "decisions": decisions}


def _corrections_count() -> int:
    from grader.models import Correction

    return Correction.objects.filter(submission__question__course__code=COURSE_CODE).count()


def _summarize(results: dict, *, schedule, start: str, options: SemesterOptions, minutes: float) -> dict:
    from grader.services.model_versions import gate_rule

    rule = gate_rule()
    per_assignment = []
    for index, (assignment, items) in enumerate(schedule):
        entry = {"assignment": assignment, "answers": len(items), "questions": len({i.question_id for i in items})}
        never = results.get("never", {}).get("rows", [])
        for policy, result in results.items():
            row = result["rows"][index]
            entry[policy] = {
                "version": row["version"],
                **grade_metrics(
                    predicted=row["predicted"],
                    human=row["human"],
                    max_points=row["max_points"],
                    pass_fraction=rule.pass_fraction,
                ),
            }
            if policy != "never" and never:
                versus = HeldOutGrades(row["human"], row["max_points"], row["predicted"], never[index]["predicted"])
                entry[policy]["gain_over_never"] = paired_bootstrap(versus, rule=rule)
        per_assignment.append(entry)
    overall = {}
    for policy, result in results.items():
        rows = result["rows"]
        overall[policy] = grade_metrics(
            predicted=[p for row in rows for p in row["predicted"]],
            human=[h for row in rows for h in row["human"]],
            max_points=[m for row in rows for m in row["max_points"]],
            pass_fraction=rule.pass_fraction,
        )
    hyperparameters = options.hyperparameters
    return {
        "protocol": "semester",
        "k": options.k,
        "assignments": [assignment for assignment, _ in schedule],
        "start_version": start,
        "hyperparameters": hyperparameters.as_dict() if hyperparameters else "deployment settings",
        "recipe": (options.recipe or TrainingRecipe()).as_dict(),
        "minutes": round(minutes, 1),
        "per_assignment": per_assignment,
        "overall": overall,
        "decisions": {policy: result["decisions"] for policy, result in results.items()},
        "gate_worse_than_never": [
            entry["assignment"]
            for entry in per_assignment
            if "gate" in entry
            and entry["gate"].get("gain_over_never", {}).get("rmse", {}).get("high") is not None
            and entry["gate"]["gain_over_never"]["rmse"]["high"] < 0
        ],
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(summary: dict) -> str:
    policies = [policy for policy in POLICIES if policy in summary["overall"]]
    names = " / ".join(policies)
    recipe = TrainingRecipe(**summary["recipe"]).describe() if summary.get("recipe") else ""
    lines = [
        f"Semester replay: {len(summary['assignments'])} assignments, k = {summary['k']} corrections per question, "
        f"starting from {summary['start_version']}"
        + (f"; training recipe: {recipe}" if recipe else "")
        + f"; {summary['minutes']:.0f} min.",
        "",
        f"| assignment | answers | RMSE {names} | Pearson {names} | pass/fail acc. {names} | "
        + " | ".join(f"RMSE gain vs never: {p}" for p in policies if p != "never")
        + " |",
        "|---|---|---|---|---|" + "---|" * len([p for p in policies if p != "never"]),
    ]
    for entry in summary["per_assignment"]:
        cells = [" / ".join(_fmt(entry[p][metric]) for p in policies) for metric in GATE_METRICS]
        gains = []
        for policy in policies:
            if policy == "never":
                continue
            gain = entry[policy].get("gain_over_never", {}).get("rmse") or {}
            if entry[policy]["version"] == entry.get("never", {}).get("version"):
                gains.append(f"0 (same version, {entry[policy]['version']})")
            else:
                gains.append("-" if gain.get("low") is None else
                             f"{gain['improvement']:+.3f} ({gain['low']:+.3f} to {gain['high']:+.3f})")  # fmt: skip
        lines.append(f"| {entry['assignment']} | {entry['answers']} | " + " | ".join(cells + gains) + " |")
    overall = [" / ".join(_fmt(summary["overall"][p][metric]) for p in policies) for metric in GATE_METRICS]
    total = sum(entry["answers"] for entry in summary["per_assignment"])
    lines.append(f"| **all** | {total} | " + " | ".join(overall) + " |" + " |" * (len(policies) - 1))
    if "gate" in policies and "never" in policies:
        worse = summary["gate_worse_than_never"]
        lines += [
            "",
            "Retraining with the gate graded worse than never retraining, beyond the interval, on: "
            + (", ".join(worse) if worse else "no assignment")
            + ".",
        ]
    for policy, decisions in summary["decisions"].items():
        if not decisions:
            continue
        lines += ["", f"Retrains, {POLICY_LABELS[policy]}:", ""]
        lines += [
            f"- after {d['after']} ({d['corrections']} corrections): {d['reason']}"
            + (" Activated anyway." if policy == "always" and d.get("version") and not d.get("activated_by_gate")
               else "")
            for d in decisions
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assignments = [entry["assignment"] for entry in summary["per_assignment"]]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for axis, metric in zip(axes, GATE_METRICS, strict=True):
        for policy in POLICIES:
            if policy not in summary["overall"]:
                continue
            # Dashed: where the gate kept the active version, its curve lies on "never"'s.
            axis.plot(assignments, [entry[policy][metric] for entry in summary["per_assignment"]], marker="o",
                      linestyle="--" if policy == "gate" else "-", label=POLICY_LABELS[policy])  # fmt: skip
        axis.set_title({"rmse": "RMSE (points, lower is better)", "pearson": "Pearson",
                        "pass_fail_accuracy": "pass/fail accuracy"}[metric])  # fmt: skip
        axis.tick_params(axis="x", rotation=60)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"Semester replay, k = {summary['k']} corrections per question")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(summary: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "semester.json", out_dir / "semester.md", out_dir / "semester.png"]
    paths[0].write_text(json.dumps(summary, indent=2, default=float), encoding="utf-8")
    paths[1].write_text(markdown(summary), encoding="utf-8")
    plot(summary, paths[2])
    return paths
