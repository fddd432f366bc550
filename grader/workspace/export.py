"""Grades as CSV, for the teacher's gradebook."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from grader.models import Submission

GRADE_CSV_COLUMNS = [
    "submission", "course", "question", "student_ref", "external_id", "status", "similarity", "auto_points",
    "teacher_points", "final_points", "max_points", "corrected_by", "corrected_at", "model_version", "graded_at",
]  # fmt: skip


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting with one of these as a formula (CSV injection via student_ref).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grades_csv(submissions: Iterable[Submission]) -> str:
    """One row per submission; expects ``latest_teacher`` and ``latest_corrected_at`` annotations if available."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(GRADE_CSV_COLUMNS)
    for s in submissions:
        corrected_at = getattr(s, "latest_corrected_at", None)
        writer.writerow(
            _cell(value)
            for value in [
                s.pk, s.question.course.code, s.question.key, s.student_ref, s.external_id, s.status,
                None if s.similarity is None else f"{s.similarity:.4f}", s.points, s.corrected_points, s.final_points,
                s.question.max_points, getattr(s, "latest_teacher", None),
                corrected_at.isoformat() if corrected_at else None,
                s.model_version.name if s.model_version else None, s.graded_at.isoformat() if s.graded_at else None,
            ]
        )  # fmt: skip
    return buffer.getvalue()
