"""Re-scoring existing submissions with a model version: the pre-promotion dry run, and regrading after one.

Teacher-corrected submissions are never touched: the dry run leaves them out, and every regrade write is a
conditional UPDATE that requires ``corrected_points IS NULL`` at the moment it lands.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from grader.db import database_now
from grader.models import ModelVersion, Question, Submission
from grader.scoring.grading import Score, grade_batch
from grader.selectors import model_version_active
from grader.services.embeddings import graded_batch_embeddings_store
from grader.services.grades import graded_fields
from grader.services.grading_models import model_for_version
from grader.services.webhooks import webhook_event_submission

logger = logging.getLogger(__name__)

BATCH = 64
# The dry run's report keeps this many of its largest changes (ids and points: the report is shown to every staff
# member, a submission's text only to its course's teachers).
DRY_RUN_EXAMPLES = 5


# Auto grades no teacher has settled: released ones and ones awaiting review (a new version may be sure of
# those, or unsure of a released one: the regrade decides the status again, as grading does).
AUTO_GRADED = (Submission.Status.GRADED, Submission.Status.NEEDS_REVIEW)


def _uncorrected_graded() -> QuerySet[Submission]:
    return Submission.objects.filter(status__in=AUTO_GRADED, corrected_points__isnull=True)


def _rescore(*, version: ModelVersion, submissions: list[Submission], store: bool) -> dict[int, Score]:
    """Each submission graded by ``version`` as the workers grade. ``store``: keep what was encoded (a regrade by
    the active version, in a worker); a dry run of a candidate stores nothing and leaves the process's model."""
    model = model_for_version(version=version, keep=store)
    by_question: dict[int, list[Submission]] = defaultdict(list)
    for submission in submissions:
        by_question[submission.question_id].append(submission)
    scores = {}
    questions = Question.objects.prefetch_related("reference_answers").in_bulk(list(by_question))
    for question_id, group in by_question.items():
        for start in range(0, len(group), BATCH):
            chunk = group[start : start + BATCH]
            batch = grade_batch(model=model, version=version, items=[(questions[question_id], s.answer) for s in chunk])
            if store:
                graded_batch_embeddings_store(batch=batch, version=version)
            scores.update({submission.pk: score for submission, score in zip(chunk, batch.scores, strict=True)})
    return scores


def model_version_dry_run(*, version: ModelVersion, limit: int | None = None) -> dict:
    """How the most recent graded, uncorrected submissions' points would change with ``version``. Writes no grade.

    How many change, by how much, how many cross the pass mark (GRADER_PASS_FRACTION of the question's maximum)
    and the largest changes as examples. The report is stored on the version (``dry_run``) and returned.
    """
    limit = settings.GRADER_DRY_RUN_LIMIT if limit is None else limit
    sample = list(
        _uncorrected_graded().select_related("question", "question__course").order_by("-graded_at", "-pk")[:limit]
    )
    scores = _rescore(version=version, submissions=sample, store=False) if sample else {}
    changes = [scores[s.pk].points - s.points for s in sample]
    moved = [abs(change) for change in changes if change != 0]
    pass_fraction = Decimal(str(settings.GRADER_PASS_FRACTION))

    def passes(points: Decimal, submission: Submission) -> bool:
        return points >= pass_fraction * submission.question.max_points

    crossing = [s for s in sample if passes(s.points, s) != passes(scores[s.pk].points, s)]
    # The largest changes first: what a teacher would want to look at before this version grades their course.
    largest = sorted((s for s in sample if scores[s.pk].points != s.points),
                     key=lambda s: (-abs(scores[s.pk].points - s.points), s.pk))[:DRY_RUN_EXAMPLES]  # fmt: skip
    report = {
        "version": version.name,
        "at": timezone.now().isoformat(),
        "total_uncorrected": _uncorrected_graded().count(),
        "sampled": len(sample),
        "changed": len(moved),
        "raised": sum(1 for change in changes if change > 0),
        "lowered": sum(1 for change in changes if change < 0),
        "mean_abs_change": float(sum(moved, Decimal(0)) / len(changes)) if changes else 0.0,
        "max_abs_change": float(max(moved, default=Decimal(0))),
        "changes": {str(change): count for change, count in sorted(Counter(changes).items())},
        "crossing_pass_mark": len(crossing),
        "passing_to_failing": sum(1 for s in crossing if passes(s.points, s)),
        "examples": [
            {
                "submission": s.pk,
                "course": s.question.course.code,
                "question": s.question.key,
                "max_points": float(s.question.max_points),
                "points": float(s.points),
                "new_points": float(scores[s.pk].points),
            }
            for s in largest
        ],
    }
    ModelVersion.objects.filter(pk=version.pk).update(dry_run=report)
    return report


def submissions_regrade(*, question_ids: list[int]) -> int:
    """Grade again with the active version every graded submission of these questions that no teacher corrected.

    Idempotent: submissions already graded by the active version are skipped. Returns how many grades changed hands.
    """
    version = model_version_active()
    if version is None:
        return 0
    pending = list(
        _uncorrected_graded()
        .filter(question_id__in=question_ids)
        .exclude(model_version=version)
        .only("pk", "question_id", "answer", "points", "status")
    )
    if not pending:
        return 0
    scores = _rescore(version=version, submissions=pending, store=True)
    written = 0
    now = database_now()  # as grading stamps a grade: no machine's clock decides
    for submission in pending:
        score = scores[submission.pk]
        with transaction.atomic():
            # Every field a first grade writes (status, confidence and review reasons included), and updated_at,
            # which .update() does not touch by itself: an LMS polling with updated_since must see the change.
            fields = graded_fields(score=score, version=version, graded_at=now)
            updated = Submission.objects.filter(
                pk=submission.pk, status__in=AUTO_GRADED, corrected_points__isnull=True
            ).update(**fields)
            written += updated
            if updated and (score.points != submission.points or fields["status"] != submission.status):
                webhook_event_submission(
                    submission_id=submission.pk, event="submission.grade_changed", reason="regrade"
                )
    logger.info("regraded %s submissions of questions %s with %s", written, question_ids, version.name)
    return written


def regrade_enqueue(*, question_ids: list[int]) -> None:
    """Hand regrading to the grading workers once the caller's transaction commits, one task per question."""
    from grader.tasks import regrade_question

    for question_id in question_ids:
        transaction.on_commit(lambda question_id=question_id: regrade_question.delay(question_id))


def questions_with_uncorrected_grades() -> list[int]:
    return sorted(set(_uncorrected_graded().values_list("question_id", flat=True)))
