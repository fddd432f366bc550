"""`manage.py evaluate --protocol semester`: the learning loop replayed end to end on the test database."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from grader.models import Correction, Course, ModelVersion, Submission, TrainingRun
from tests.quality.conftest import TINY_ROWS

pytestmark = pytest.mark.django_db


@pytest.fixture
def course_csv(tmp_path: Path) -> Path:
    """Three assignments (fold_a, fold_b, fold_c) of one question and six graded answers each."""
    path = tmp_path / "course.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["question_id", "question", "reference_answer", "student_answer", "score", "max_score", "split"]
        )
        for question_id, question, reference, answers, split in TINY_ROWS:
            for answer, score in answers:
                writer.writerow([question_id, question, reference, answer, score, 5, split])
    return path


def test_two_assignments_replayed_through_the_real_retrain_for_the_three_policies(
    course_csv, base_model_version, fast_training, tmp_path
):
    fast_training.GRADER_RETRAIN_MIN_NEW_CORRECTIONS = 5  # the five corrections of the first assignment
    out = tmp_path / "out"

    call_command("evaluate", str(course_csv), protocol="semester", assignments=2, k=5, out=out, stdout=StringIO())

    summary = json.loads((out / "semester.json").read_text())
    assert summary["assignments"] == ["fold_a", "fold_b"]
    report = (out / "semester.md").read_text()
    assert report.startswith("Semester replay: 2 assignments, k = 5")
    assert "worse than never retraining, beyond the interval, on: no assignment." in report
    assert (out / "semester.png").read_bytes().startswith(b"\x89PNG")
    first, second = summary["per_assignment"]
    assert first["answers"] == second["answers"] == 6
    for policy in ("never", "gate", "always"):
        assert first[policy]["version"] == "base"  # every policy grades the first assignment with the start version
        assert first[policy]["n"] == 6 and first[policy]["rmse"] is not None
    assert second["never"]["version"] == "base"
    # One retrain per retraining policy, through model_retrain: a candidate trained on the seed pairs and the five
    # corrections. The gate judges it on held-out teacher corrections alone (at most five, fewer than the 20 it
    # needs), so it stays inactive; "always" activates it anyway and grades the second assignment with it.
    (gate,) = summary["decisions"]["gate"]
    (always,) = summary["decisions"]["always"]
    assert gate["corrections"] == always["corrections"] == 5
    assert gate["activated_by_gate"] is False and gate["reason"].startswith("Not activated")
    assert second["gate"]["version"] == "base"
    assert second["always"]["version"] == always["version"] != "base"
    assert "gain_over_never" in second["always"]
    assert summary["decisions"]["never"] == []
    (run,) = TrainingRun.objects.filter(trigger="semester-replay")  # the last policy's history
    assert run.status == TrainingRun.Status.SUCCEEDED and run.produced_version.name == always["version"]
    # The replay leaves the database as it found it: its course gone, the start version active.
    assert not Course.objects.filter(code="semester-replay").exists()
    assert not Submission.objects.exists() and not Correction.objects.exists()
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version


def test_the_replay_refuses_a_database_that_holds_submissions(course_csv, corrected_course, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="scratch database"):
        call_command("evaluate", str(course_csv), protocol="semester", out=tmp_path / "out", stdout=StringIO())
