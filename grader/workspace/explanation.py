"""What a submission's grade rests on: every reference with its similarity, and which sentences the answer covers.

Graded again by the pipeline the workers run (grader.scoring.grading.grade_batch), read-only: nothing encoded here
is stored, and the web process's kept model is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.models import ModelVersion, ReferenceAnswer, Submission
from grader.scoring.context import credit_band
from grader.scoring.explain import SentenceCoverage, reference_coverage
from grader.scoring.grading import Score, grade_batch
from grader.selectors import model_version_active
from grader.services.grading_models import model_for_version
from grader.services.model_artifacts import model_version_local_path


@dataclass(frozen=True)
class ReferenceExplanation:
    reference: ReferenceAnswer
    similarity: float
    is_best: bool
    sentences: list[SentenceCoverage]


@dataclass(frozen=True)
class Explanation:
    model_version: ModelVersion
    score: Score  # the grade as the version gives it now (corrections and earlier answers as they stand)
    references: list[ReferenceExplanation]
    zero_credit: float  # the question's scale: similarity that earns nothing ...
    full_credit: float  # ... and full points
    step: float  # points are rounded to this


def _explaining_version(submission: Submission) -> ModelVersion | None:
    """The version that graded the submission if its files are still here, else the active one."""
    version = submission.model_version
    if version is not None and model_version_local_path(version=version).is_dir():
        return version
    return model_version_active()


def submission_explanation(*, submission: Submission) -> Explanation | None:
    """None when there is no model to explain with (no version yet) or the question has no reference."""
    question = submission.question
    references = list(question.reference_answers.all())
    version = _explaining_version(submission)
    if not references or version is None:
        return None
    model = model_for_version(version=version, keep=False)
    batch = grade_batch(model=model, version=version, items=[(question, submission.answer)])
    [score] = batch.scores
    zero, full = credit_band(question)
    return Explanation(
        model_version=version,
        score=score,
        zero_credit=zero,
        full_credit=full,
        step=batch.contexts[question.pk].policy.step,
        references=[
            ReferenceExplanation(
                reference=reference,
                similarity=similarity,
                is_best=reference.pk == score.best_reference_id,
                sentences=reference_coverage(
                    model=model,
                    answer=submission.answer,
                    reference=reference.text,
                    zero_credit=zero,
                    full_credit=full,
                    question=question.prompt,
                ),
            )
            for reference, similarity in zip(references, score.similarities, strict=True)
        ],
    )
