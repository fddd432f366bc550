"""What a submission's grade rests on: every reference with its similarity, and which sentences the answer covers."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from grader.models import ModelVersion, ReferenceAnswer, Submission
from grader.scoring.encoder import load_encoder
from grader.scoring.explain import SentenceCoverage, reference_coverage
from grader.scoring.grading import score_answers
from grader.services.model_versions import NoActiveModelVersion, artifact_dir, encoder_for_active_version


@dataclass(frozen=True)
class ReferenceExplanation:
    reference: ReferenceAnswer
    similarity: float
    is_best: bool
    sentences: list[SentenceCoverage]


@dataclass(frozen=True)
class Explanation:
    model_version: ModelVersion
    references: list[ReferenceExplanation]


def _encoder_for(submission: Submission):
    """The version that graded the submission if its files are still here, else the active one."""
    version = submission.model_version
    if version is not None and artifact_dir(version).is_dir():
        return version, load_encoder(path=artifact_dir(version), version_id=version.pk)
    return encoder_for_active_version()


def submission_explanation(*, submission: Submission) -> Explanation | None:
    """None when there is no model to explain with (no version yet) or the question has no reference."""
    question = submission.question
    if not question.reference_answers.exists():
        return None
    try:
        version, encoder = _encoder_for(submission)
    except NoActiveModelVersion:
        return None
    [score] = score_answers(encoder=encoder, model_version=version, question=question, answers=[submission.answer])
    zero = question.zero_credit_similarity
    full = question.full_credit_similarity
    zero = settings.GRADER_ZERO_CREDIT_SIMILARITY if zero is None else zero
    full = settings.GRADER_FULL_CREDIT_SIMILARITY if full is None else full
    references = list(question.reference_answers.all())
    return Explanation(
        model_version=version,
        references=[
            ReferenceExplanation(
                reference=reference,
                similarity=similarity,
                is_best=reference.pk == score.best_reference.pk,
                sentences=reference_coverage(
                    encoder=encoder,
                    answer=submission.answer,
                    reference=reference.text,
                    zero_credit=zero,
                    full_credit=full,
                ),
            )
            for reference, similarity in zip(references, score.similarities, strict=True)
        ],
    )
