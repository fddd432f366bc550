"""Fixtures for the grading-quality tests: the base model's encoder and a tiny CSV in the benchmark schema."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from grader.models import ModelVersion
from grader.scoring.model import GradingModel, load_model
from grader.services.model_versions import artifact_dir


@pytest.fixture
def base_encoder(base_model_version: ModelVersion) -> GradingModel:
    return load_model(path=artifact_dir(base_model_version), version_id=base_model_version.pk)


TINY_ROWS = [
    # question_id, question, reference, [(answer, score)], split
    ("q1", "What does a compiler do?", "It translates source code into machine code.",
     [("It turns source code into machine code.", 5), ("It translates the program into machine language.", 5),
      ("Converts code to executable machine instructions.", 4.5), ("It runs the program line by line.", 2),
      ("It stores variables in memory.", 1), ("A compiler compiles.", 1.5)], "fold_a"),
    ("q2", "What is a variable?", "A named location in memory that stores a value.",
     [("A named memory location holding a value.", 5), ("A place in memory with a name where data is kept.", 5),
      ("Something that stores a value.", 3.5), ("A type of loop.", 0), ("A function that returns a value.", 1),
      ("It is a value that can change, kept in memory under a name.", 4.5)], "fold_b"),
    ("q3", "What is a loop used for?", "To repeat a block of statements while a condition holds.",
     [("To repeat statements until a condition becomes false.", 5), ("Repeating code several times.", 4),
      ("To declare variables.", 0.5), ("It repeats a block while the condition is true.", 5),
      ("To stop the program.", 0), ("Running the same instructions again and again.", 4)], "fold_c"),
]  # fmt: skip


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["question_id", "question", "reference_answer", "student_answer", "score", "max_score", "split"]
        writer.writerow(header)
        for question_id, question, reference, answers, split in TINY_ROWS:
            for answer, score in answers:
                writer.writerow([question_id, question, reference, answer, score, 5, split])
    return path
