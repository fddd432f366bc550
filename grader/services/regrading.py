"""Re-scoring existing submissions with a model version: the pre-promotion dry run, and regrading after one.

Teacher-corrected submissions are never touched: the dry run leaves them out, and every regrade write is a
conditional UPDATE that requires ``corrected_points IS NULL`` at the moment it lands.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from grader import dispatch
from grader.db import database_now
from grader.lti.passback import lti_scores_record
from grader.models import ModelVersion, Question, Submission
from grader.scoring.grading import Score, grade_batch
from grader.selectors import model_version_active
from grader.services.embeddings import graded_batch_embeddings_store
from grader.services.grades import graded_fields
from grader.services.grading_models import model_for_version
from grader.services.webhooks import webhook_event_submission

logger = logging.getLogger(__name__)

BATCH = 64
# A request older than this whose task has not cleared it lost its message, or its worker died: sent again.
# Longer than the task's hard time limit (grader/tasks.py), so a regrade or dry run still running is never sent
# twice.
REGRADE_LEASE = timedelta(minutes=12)
DRY_RUN_LEASE = timedelta(minutes=33)
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
    # (submission, its points, the version's points). An auto grade always has points; the filter tells the type
    # checker.
    rescored = [(sub, sub.points, scores[sub.pk].points) for sub in sample if sub.points is not None]
    changes = [new - old for _, old, new in rescored]
    moved = [abs(change) for change in changes if change != 0]
    pass_fraction = Decimal(str(settings.GRADER_PASS_FRACTION))

    def passes(points: Decimal, submission: Submission) -> bool:
        return points >= pass_fraction * submission.question.max_points

    crossing = [(sub, old) for sub, old, new in rescored if passes(old, sub) != passes(new, sub)]
    # The largest changes first: what a teacher would want to look at before this version grades their course.
    largest = sorted((row for row in rescored if row[1] != row[2]),
                     key=lambda row: (-abs(row[2] - row[1]), row[0].pk))[:DRY_RUN_EXAMPLES]  # fmt: skip
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
        "passing_to_failing": sum(1 for sub, old in crossing if passes(old, sub)),
        "examples": [
            {
                "submission": sub.pk,
                "course": sub.question.course.code,
                "question": sub.question.key,
                "max_points": float(sub.question.max_points),
                "points": float(old),
                "new_points": float(new),
            }
            for sub, old, new in largest
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
                lti_scores_record(submission_ids=[submission.pk])
    logger.info("regraded %s submissions of questions %s with %s", written, question_ids, version.name)
    return written


def regrade_enqueue(*, question_ids: list[int]) -> None:
    """Record a regrade of each question and hand it to the grading workers once the caller's transaction commits.

    Recorded first (``regrade_requested_at``), so a message the broker cannot take is sent again by
    regrades_requeue_stale.
    """
    Question.objects.filter(pk__in=question_ids).update(regrade_requested_at=database_now())
    for question_id in question_ids:
        transaction.on_commit(partial(dispatch.enqueue_regrade, question_id))


def question_regrade_requested(*, question_id: int) -> int:
    """Run a recorded regrade of one question, then clear the request. Idempotent.

    A request recorded again while this one ran keeps its mark (the clear is conditional), so it is not lost.
    """
    requested_at = Question.objects.filter(pk=question_id).values_list("regrade_requested_at", flat=True).first()
    written = submissions_regrade(question_ids=[question_id])
    if requested_at is not None:
        Question.objects.filter(pk=question_id, regrade_requested_at=requested_at).update(regrade_requested_at=None)
    return written


def regrades_requeue_stale() -> int:
    """Send again the regrades recorded longer than REGRADE_LEASE ago and never finished. Run by beat."""
    return _requeue_stale(Question, "regrade_requested_at", lease=REGRADE_LEASE, send=dispatch.enqueue_regrade)


def model_version_dry_run_request(*, version: ModelVersion) -> None:
    """Record a dry run of ``version`` and hand it to the training workers once the caller's transaction commits."""
    ModelVersion.objects.filter(pk=version.pk).update(dry_run_requested_at=database_now())
    transaction.on_commit(lambda: dispatch.enqueue_dry_run(version.pk))


def model_version_dry_run_requested(*, version_id: int) -> dict:
    """Run a recorded dry run, then clear the request (unless it was recorded again meanwhile). Idempotent."""
    version = ModelVersion.objects.get(pk=version_id)
    report = model_version_dry_run(version=version)
    if version.dry_run_requested_at is not None:
        ModelVersion.objects.filter(pk=version_id, dry_run_requested_at=version.dry_run_requested_at).update(
            dry_run_requested_at=None
        )
    return report


def dry_runs_requeue_stale() -> int:
    """Send again the dry runs recorded longer than DRY_RUN_LEASE ago and never finished. Run by beat."""
    return _requeue_stale(ModelVersion, "dry_run_requested_at", lease=DRY_RUN_LEASE, send=dispatch.enqueue_dry_run)


def _requeue_stale(
    model: type[Question] | type[ModelVersion], field: str, *, lease: timedelta, send: Callable[[int], bool]
) -> int:
    now = database_now()
    stale = list(model.objects.filter(**{f"{field}__lt": now - lease}).values_list("pk", field))
    sent = 0
    for pk, requested_at in stale:
        # The clock restarts before the message goes out, so a task that finishes at once still clears the request.
        model.objects.filter(pk=pk).update(**{field: now})
        if not send(pk):
            # The broker is down: every other publish would fail too. The request keeps its age, so the next sweep
            # sends it at once.
            model.objects.filter(pk=pk, **{field: now}).update(**{field: requested_at})
            break
        sent += 1
    if sent:
        logger.info("sent %s stale requests (%s.%s) again", sent, model.__name__, field)
    return sent


def questions_with_uncorrected_grades() -> list[int]:
    return sorted(set(_uncorrected_graded().values_list("question_id", flat=True)))
