"""Questions and reference answers from CSV: every row is validated first, then all of it is written or none."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import QuerySet

from grader.models import Course, Question, ReferenceAnswer

QUESTION_CSV_COLUMNS = ["course", "key", "prompt", "max_points", "reference_answer"]
MAX_ROWS = 5000
# The limits of the API and of the columns, so that a row the check accepts is one the database stores.
KEY_MAX_CHARS: int = Question._meta.get_field("key").max_length or 0
PROMPT_MAX_CHARS: int = Question._meta.get_field("prompt").max_length or 0


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    references_added: int = 0
    errors: dict[int, list[str]] = field(default_factory=dict)  # CSV line number -> messages

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _QuestionRows:
    course: Course
    key: str
    prompt: str
    max_points: Decimal
    references: list[str] = field(default_factory=list)


def _validate_row(row: dict[str, str], courses: dict[str, Course]) -> tuple[list[str], _QuestionRows | None]:
    values = [value for value in row.values() if isinstance(value, str)]
    if any("\x00" in value for value in values):
        # PostgreSQL cannot store a NUL character in text.
        return ["the row contains a NUL character"], None
    errors = []
    course = courses.get((row.get("course") or "").strip())
    if course is None:
        errors.append(f"course {row.get('course')!r} is not one of your courses")
    key = (row.get("key") or "").strip()
    try:
        validate_slug(key)
    except ValidationError:
        errors.append(f"key {key[:KEY_MAX_CHARS]!r} must be letters, digits, '-' or '_'")
    if len(key) > KEY_MAX_CHARS:
        errors.append(f"key is longer than {KEY_MAX_CHARS} characters")
    prompt = (row.get("prompt") or "").strip()
    if not prompt:
        errors.append("prompt is empty")
    elif len(prompt) > PROMPT_MAX_CHARS:
        errors.append(f"prompt is longer than {PROMPT_MAX_CHARS} characters")
    try:
        max_points = Decimal((row.get("max_points") or "").strip())
        if not Decimal("0.5") <= max_points <= Decimal("1000"):
            errors.append("max_points must lie between 0.5 and 1000")
    except InvalidOperation:
        max_points = Decimal("0")
        errors.append(f"max_points {row.get('max_points')!r} is not a number")
    reference = (row.get("reference_answer") or "").strip()
    if not reference:
        errors.append("reference_answer is empty")
    elif len(reference) > settings.GRADER_REFERENCE_MAX_CHARS:
        errors.append(f"reference_answer is longer than {settings.GRADER_REFERENCE_MAX_CHARS} characters")
    if errors or course is None:
        return errors, None
    return [], _QuestionRows(course=course, key=key, prompt=prompt, max_points=max_points, references=[reference])


def questions_import_csv(*, text: str, courses: QuerySet[Course], dry_run: bool = False) -> ImportResult:
    """Create or update questions from CSV with the columns of ``QUESTION_CSV_COLUMNS``, one reference answer a row.

    Rows of the same (course, key) form one question and must agree on prompt and max_points. Questions that
    exist are updated and get the reference answers they lack. ``courses`` is what the importer may write to.
    """
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text))
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as error:
        result.errors[1] = [f"not valid CSV: {error}"]
        return result
    missing = [column for column in QUESTION_CSV_COLUMNS if column not in fieldnames]
    if missing:
        result.errors[1] = [f"missing column(s): {', '.join(missing)}"]
        return result
    allowed = {course.code: course for course in courses}
    # Codes are unique per integration, not across grader: one teacher may teach two courses with one code.
    ambiguous = {code for code, count in Counter(course.code for course in courses).items() if count > 1}
    questions: dict[tuple[int, str], _QuestionRows] = {}
    for row in _rows(reader, result):
        line = reader.line_num
        if line > MAX_ROWS + 1:
            result.errors[line] = [f"more than {MAX_ROWS} rows; split the file"]
            break
        errors, parsed = _validate_row(row, allowed)
        if (row.get("course") or "").strip() in ambiguous:
            errors, parsed = [f"course {row.get('course')!r} names more than one of your courses; rename one"], None
        if parsed is not None:
            seen = questions.get((parsed.course.pk, parsed.key))
            if seen is None:
                questions[(parsed.course.pk, parsed.key)] = parsed
            elif (seen.prompt, seen.max_points) != (parsed.prompt, parsed.max_points):
                errors.append(f"prompt or max_points differ from an earlier row of question {parsed.key!r}")
            elif parsed.references[0] not in seen.references:
                seen.references.append(parsed.references[0])
        if errors:
            result.errors[line] = errors
    if result.errors or dry_run:
        if not result.errors:
            _count_only(result, questions.values())
        return result
    with transaction.atomic():
        for parsed in questions.values():
            question, created = Question.objects.update_or_create(
                course=parsed.course,
                key=parsed.key,
                defaults={"prompt": parsed.prompt, "max_points": parsed.max_points},
            )
            result.created += created
            result.updated += not created
            existing = set(question.reference_answers.values_list("text", flat=True))
            new = [ReferenceAnswer(question=question, text=text) for text in parsed.references if text not in existing]
            ReferenceAnswer.objects.bulk_create(new)
            result.references_added += len(new)
    return result


def _rows(reader: csv.DictReader, result: ImportResult):
    """The reader's rows; a line the csv module cannot read (a field over its size limit) ends the file as an error."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = f"not valid CSV: {error}"
            if "field larger than field limit" in str(error):
                message = f"a field is longer than {csv.field_size_limit() // 1024} KiB"
            result.errors[reader.line_num] = [message]
            return
        yield row


def _count_only(result: ImportResult, questions) -> None:
    for parsed in questions:
        question = Question.objects.filter(course=parsed.course, key=parsed.key).first()
        existing = set(question.reference_answers.values_list("text", flat=True)) if question else set()
        result.created += question is None
        result.updated += question is not None
        result.references_added += len([text for text in parsed.references if text not in existing])
