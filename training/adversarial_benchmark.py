"""The hand-written adversarial benchmark (bench/adversarial/answers.csv): answers built to look like the reference
while being wrong (negations, keyword salads, copied questions, wrong answers in the reference's words), and true
paraphrases, each with the points a teacher would give. No ORM, no HTTP: every answer is graded by the workers'
function (grader.scoring.grading.grade_answer) on a context built from the question's texts, as a fresh question
(no corrections, no earlier answers).

Reported per split (dev: tune on it; test: report only) and per kind: the share caught (below the pass mark or
routed to a teacher), the share released at >= 80 % of the points, the share of paraphrases released at or above
the pass mark; per question, whether every paraphrase scores above every negation, salad and copy; and how well
the released answers' confidence matches how often their pass/fail decision is right (expected calibration error).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import numpy as np

from grader.scoring.calibration import Calibration
from grader.scoring.context import GradingPolicy
from grader.scoring.grading import Score, grade_texts
from grader.scoring.model import GradingModel
from training.metrics import expected_calibration_error

# What must be caught (below the pass mark or routed) and never released at high marks.
FOOLING_KINDS = ("negation", "keyword_salad", "question_copy", "wrong_on_topic")
# A paraphrase must score above these on its own question.
BELOW_PARAPHRASES = ("negation", "keyword_salad", "question_copy")
HIGH_MARKS = 0.8


@dataclass(frozen=True)
class Case:
    question_id: str
    subject: str
    question: str
    references: tuple[str, ...]
    answer: str
    kind: str
    score: float
    max_score: float
    split: str


def load_cases(path: str | Path) -> list[Case]:
    """Rows of the benchmark CSV; several references per question are separated by ``||``."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            Case(
                question_id=row["question_id"],
                subject=row.get("subject", ""),
                question=row["question"],
                references=tuple(part.strip() for part in row["reference_answers"].split("||") if part.strip()),
                answer=row["student_answer"],
                kind=row["kind"],
                score=float(row["score"]),
                max_score=float(row["max_score"]),
                split=row["split"],
            )
            for row in csv.DictReader(handle)
        ]


def grade_cases(
    cases: Sequence[Case], *, model: GradingModel, calibration: Calibration, policy: GradingPolicy
) -> list[Score]:
    """Every case graded as the workers grade a first answer to its question (``policy``'s step, pass mark and
    review risk; each question's own maximum)."""
    items = [
        (case.question, case.references, replace(policy, max_points=Decimal(str(case.max_score))), case.answer)
        for case in cases
    ]
    return grade_texts(model=model, calibration=calibration, items=items)


def summarize(cases: Sequence[Case], scores: Sequence[Score], *, pass_fraction: float) -> dict:
    """The report of one run, per split ("dev", "test", and "all")."""
    report = {}
    for split in [*sorted({case.split for case in cases}), "all"]:
        chosen = [(c, s) for c, s in zip(cases, scores, strict=True) if split in ("all", c.split)]
        report[split] = _summarize_split(chosen, pass_fraction=pass_fraction)
    return report


def _summarize_split(rows: Sequence[tuple[Case, Score]], *, pass_fraction: float) -> dict:
    by_kind: dict[str, list[tuple[Case, Score]]] = defaultdict(list)
    for case, score in rows:
        by_kind[case.kind].append((case, score))
    kinds = {}
    for kind, members in sorted(by_kind.items()):
        fractions = np.array([float(score.points) / case.max_score for case, score in members])
        routed = np.array([score.needs_review for _, score in members])
        kinds[kind] = {
            "n": len(members),
            "caught": float(np.mean((fractions < pass_fraction) | routed)),
            "released_at_high_marks": float(np.mean(~routed & (fractions >= HIGH_MARKS))),
            "released_passing": float(np.mean(~routed & (fractions >= pass_fraction))),
            "routed": float(np.mean(routed)),
            "mean_fraction": float(np.mean(fractions)),
        }
    ordering_failures = _ordering_failures(rows)
    released = [(case, score) for case, score in rows if not score.needs_review]
    right = [
        (case.score / case.max_score >= pass_fraction) == (score.decision.fraction >= pass_fraction)
        for case, score in released
    ]
    confidence = [score.confidence for _, score in released]
    ece, bins = expected_calibration_error(confidence=confidence, correct=right)
    confident = [ok for ok, value in zip(right, confidence, strict=True) if value >= 0.9]
    return {
        "n": len(rows),
        "questions": len({case.question_id for case, _ in rows}),
        "kinds": kinds,
        "fooling_caught": _share([k for k in FOOLING_KINDS if k in kinds], kinds, "caught"),
        "fooling_released_at_high_marks": sum(
            round(kinds[k]["released_at_high_marks"] * kinds[k]["n"]) for k in FOOLING_KINDS if k in kinds
        ),
        "ordering_failures": ordering_failures,
        "confidence": {
            "released": len(released),
            "ece": ece,
            "bins": bins,
            "confident_released": len(confident),
            "confident_wrong": float(1.0 - np.mean(confident)) if confident else None,
        },
    }


def _share(kinds: Sequence[str], table: dict, key: str) -> float | None:
    total = sum(table[kind]["n"] for kind in kinds)
    return sum(table[kind][key] * table[kind]["n"] for kind in kinds) / total if total else None


def _ordering_failures(rows: Sequence[tuple[Case, Score]]) -> list[str]:
    """Questions where some paraphrase does not score strictly above every negation, salad and copy."""
    by_question: dict[str, list[tuple[Case, Score]]] = defaultdict(list)
    for case, score in rows:
        by_question[case.question_id].append((case, score))
    failures = []
    for question_id, members in sorted(by_question.items()):
        paraphrases = [score.decision.fraction for case, score in members if case.kind == "paraphrase"]
        fooling = [score.decision.fraction for case, score in members if case.kind in BELOW_PARAPHRASES]
        if paraphrases and fooling and min(paraphrases) <= max(fooling):
            failures.append(question_id)
    return failures


def write_report(
    cases: Sequence[Case], scores: Sequence[Score], summary: dict, out_dir: Path, *, title: str
) -> list[Path]:
    """JSON, Markdown, the graded answers as CSV, and a plot (caught / released per kind, and reliability)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "adversarial.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (out_dir / "adversarial.md").write_text(markdown(summary, title=title), encoding="utf-8")
    with open(out_dir / "adversarial_predictions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "question_id", "split", "kind", "answer", "teacher_points", "points", "max_points",
                         "needs_review", "reasons", "confidence"])  # fmt: skip
        for row, (case, score) in enumerate(zip(cases, scores, strict=True), start=1):
            writer.writerow([row, case.question_id, case.split, case.kind, case.answer, case.score, score.points,
                             case.max_score, score.needs_review, ",".join(score.review_reasons),
                             round(score.confidence, 4)])  # fmt: skip
    plot = out_dir / "adversarial.png"
    _plot(summary, plot)
    return [out_dir / "adversarial.json", out_dir / "adversarial.md", out_dir / "adversarial_predictions.csv", plot]


def markdown(summary: dict, *, title: str) -> str:
    lines = [title, ""]
    for split, report in summary.items():
        lines += [
            f"**{split}** ({report['questions']} questions, {report['n']} answers): fooling answers caught "
            f"{_percent(report['fooling_caught'])}, released at >= {HIGH_MARKS:.0%} of the points: "
            f"{report['fooling_released_at_high_marks']}; paraphrase above negation, salad and copy on "
            f"{report['questions'] - len(report['ordering_failures'])} of {report['questions']} questions"
            + (f" (not on {', '.join(report['ordering_failures'])})" if report["ordering_failures"] else "")
            + ".",
            "",
            "| kind | answers | caught (below pass or routed) | routed | released at >= 80 % | released passing |",
            "|---|---|---|---|---|---|",
        ]
        for kind, row in report["kinds"].items():
            lines.append(
                f"| {kind} | {row['n']} | {_percent(row['caught'])} | {_percent(row['routed'])} | "
                f"{_percent(row['released_at_high_marks'])} | {_percent(row['released_passing'])} |"
            )
        confidence = report["confidence"]
        lines += [
            "",
            f"Confidence of the {confidence['released']} released answers: expected calibration error "
            f"{_number(confidence['ece'])}; of the {confidence['confident_released']} released at confidence "
            f">= 0.9, wrong about pass/fail: {_percent(confidence['confident_wrong'])}.",
            "",
        ]
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    splits = [split for split in summary if split != "all"] or ["all"]
    kinds = sorted({kind for split in splits for kind in summary[split]["kinds"]})
    width = 0.8 / (2 * len(splits))
    for position, split in enumerate(splits):
        table = summary[split]["kinds"]
        x = np.arange(len(kinds)) + position * 2 * width
        left.bar(x, [table.get(k, {}).get("caught", 0) for k in kinds], width, label=f"{split}: caught")
        left.bar(x + width, [table.get(k, {}).get("released_at_high_marks", 0) for k in kinds], width,
                 label=f"{split}: released at >= 80 %")  # fmt: skip
    left.set_xticks(np.arange(len(kinds)) + width * (len(splits) - 0.5), kinds, rotation=35, ha="right", fontsize=8)
    left.set_ylabel("share of answers")
    left.legend(fontsize=7)
    left.set_title("per kind of answer")
    right.plot([0.5, 1.0], [0.5, 1.0], color="grey", linestyle="--", label="perfect")
    for split in splits:
        bins = [b for b in summary[split]["confidence"]["bins"] if b["n"]]
        right.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label=split)
    right.set_xlabel("confidence of released answers")
    right.set_ylabel("pass/fail decision right")
    right.legend(fontsize=7)
    right.set_title("reliability")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
