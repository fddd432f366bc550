"""`manage.py evaluate --protocol adversarial`: a benchmark of answers built to fool a similarity grader, graded by
the deployed pipeline and reported per kind, per split and per question."""

from __future__ import annotations

import csv
import json

import pytest
from django.core.management import call_command

from training.metrics import expected_calibration_error

ROWS = [
    # question_id, subject, question, references, answer, kind, score, max, split
    ("q1", "chemistry", "What does a catalyst do?", "A catalyst speeds up a chemical reaction without being used up.",
     "It makes a reaction go faster and is still there at the end.", "paraphrase", 4, 4, "dev"),
    ("q1", "chemistry", "What does a catalyst do?", "A catalyst speeds up a chemical reaction without being used up.",
     "A catalyst slows the reaction down and gets consumed.", "negation", 0, 4, "dev"),
    ("q1", "chemistry", "What does a catalyst do?", "A catalyst speeds up a chemical reaction without being used up.",
     "catalyst used up speeds chemical reaction without", "keyword_salad", 0, 4, "dev"),
    ("q2", "physics", "Why do we see lightning before we hear thunder?",
     "Light travels much faster than sound.||Sound is far slower than light, so it arrives later.",
     "because light is way quicker than sound", "paraphrase", 2, 2, "test"),
    ("q2", "physics", "Why do we see lightning before we hear thunder?",
     "Light travels much faster than sound.||Sound is far slower than light, so it arrives later.",
     "We see lightning before we hear thunder.", "question_copy", 0, 2, "test"),
]  # fmt: skip


@pytest.fixture
def benchmark_csv(tmp_path):
    path = tmp_path / "answers.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question_id", "subject", "question", "reference_answers", "student_answer", "kind", "score",
                         "max_score", "split"])  # fmt: skip
        writer.writerows(ROWS)
    return path


def test_the_adversarial_protocol_reports_every_kind_per_split_and_writes_its_predictions(
    benchmark_csv, tmp_path, base_model_version
):
    out = tmp_path / "out"
    call_command("evaluate", str(benchmark_csv), protocol="adversarial", out=out)

    summary = json.loads((out / "adversarial.json").read_text(encoding="utf-8"))
    assert set(summary) == {"dev", "test", "all"}
    assert {kind: row["n"] for kind, row in summary["dev"]["kinds"].items()} == {
        "paraphrase": 1, "negation": 1, "keyword_salad": 1,
    }  # fmt: skip
    assert summary["all"]["questions"] == 2 and summary["all"]["n"] == len(ROWS)
    with open(out / "adversarial_predictions.csv", newline="", encoding="utf-8") as handle:
        predictions = list(csv.DictReader(handle))
    assert [row["answer"] for row in predictions] == [row[4] for row in ROWS]
    # "caught" is what the predictions say: below the pass mark or routed to a teacher.
    for kind, row in summary["all"]["kinds"].items():
        members = [p for p in predictions if p["kind"] == kind]
        caught = [p["needs_review"] == "True" or float(p["points"]) < 0.5 * float(p["max_points"]) for p in members]
        assert row["caught"] == pytest.approx(sum(caught) / len(members))
    assert (out / "adversarial.png").stat().st_size > 0
    assert "keyword_salad" in (out / "adversarial.md").read_text(encoding="utf-8")


def test_expected_calibration_error_is_the_weighted_gap_between_confidence_and_accuracy():
    # Ten answers at 0.95 confidence, nine right: gap 0.05. Ten at 0.55, all right: gap 0.45.
    ece, bins = expected_calibration_error(
        confidence=[0.95] * 10 + [0.55] * 10, correct=[True] * 9 + [False] + [True] * 10
    )
    assert ece == pytest.approx((10 * 0.05 + 10 * 0.45) / 20)
    assert sum(b["n"] for b in bins) == 20
    assert expected_calibration_error(confidence=[], correct=[]) == (None, [])
