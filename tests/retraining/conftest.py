"""Fixtures for the retraining tests: a demo course whose teacher corrected the seed pairs' answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from grader.models import Course, ReferenceAnswer, Submission
from grader.scoring.model import load_model
from grader.services.model_artifacts import model_version_local_path
from grader.services.submissions import correction_create, submission_create
from tests.grading import grade_answers
from training.dataset import load_pairs_csv

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Answers no teacher corrected: the dry run re-scores them, and regrading may change them.
UNCORRECTED_ANSWERS = [
    "Gradient descent moves the weights against the gradient to make the loss smaller.",
    "Overfitting is when a model memorises the training data and does badly on new data.",
    "I do not know.",
    "A learning rate that is too large makes training diverge.",
]


@pytest.fixture
def fast_training(settings):
    """One epoch and a progress write at every step: the real recipe, shortened for the tests."""
    settings.GRADER_TRAIN_EPOCHS = 1
    settings.GRADER_TRAINING_PROGRESS_SECONDS = 0
    return settings


@pytest.fixture
def teacher(db):
    return get_user_model().objects.create_user("teacher", password="x", is_staff=True)


@pytest.fixture
def corrected_course(demo_course: Course, base_model_version, teacher) -> Course:
    """Every seed pair's answer submitted to its question, graded by the base model and corrected by the teacher
    with the seed label; a few more answers graded and left uncorrected."""
    questions = {ref.text: ref.question for ref in ReferenceAnswer.objects.select_related("question")}
    corrected = []
    for number, pair in enumerate(load_pairs_csv(PROJECT_DIR / "fixtures" / "seed_pairs.csv")):
        question = questions[pair.sentence_1]
        submission, _ = submission_create(
            question=question, student_ref=f"s{number}", answer=pair.sentence_0, external_id=f"seed-{number}"
        )
        corrected.append((submission, pair.label))
    gradient = demo_course.questions.get(key="gradient-descent")
    for number, answer in enumerate(UNCORRECTED_ANSWERS):
        submission_create(question=gradient, student_ref=f"u{number}", answer=answer)
    _grade_all(base_model_version)
    for submission, label in corrected:
        max_points = submission.question.max_points
        points = (Decimal(str(label)) * max_points * 2).quantize(Decimal("1"), ROUND_HALF_UP) / 2
        correction_create(submission=submission, teacher=teacher, points=points)
    return demo_course


def _grade_all(version) -> None:
    """What submission_grade records, one encode call per question instead of one per answer (a faster setup)."""
    queued = Submission.objects.filter(status=Submission.Status.QUEUED).select_related("question")
    by_question: dict = {}
    for submission in queued:
        by_question.setdefault(submission.question, []).append(submission)
    encoder = load_model(path=model_version_local_path(version=version), version_id=version.pk)
    now = timezone.now()
    for question, submissions in by_question.items():
        scores = grade_answers(
            model=encoder, version=version, question=question, answers=[s.answer for s in submissions]
        )
        for submission, score in zip(submissions, scores, strict=True):
            Submission.objects.filter(pk=submission.pk).update(
                status=Submission.Status.GRADED,
                similarity=score.similarity,
                points=score.points,
                best_reference_id=score.best_reference_id,
                model_version=version,
                graded_at=now,
            )


def grades_snapshot() -> dict[int, tuple]:
    return {
        row["pk"]: tuple(row.values())
        for row in Submission.objects.order_by("pk").values(
            "pk", "status", "similarity", "points", "model_version_id", "corrected_points", "graded_at"
        )
    }


def database_url() -> str:
    database = connection.settings_dict
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def subprocess_env(model_root: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "GRADER_MODEL_DIR": str(model_root),
        "GRADER_MODEL_CACHE_DIR": str(model_root / ".cache"),
        "DJANGO_SETTINGS_MODULE": "grader.settings",
        **extra,
    }


@pytest.fixture
def spawn() -> Iterator:
    """Start processes for a test and make sure none outlives it."""
    started: list[subprocess.Popen] = []

    def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(autouse=True)
def _isolated_model_cache(settings, model_root: Path) -> None:
    settings.GRADER_MODEL_CACHE_DIR = str(model_root / ".cache")
