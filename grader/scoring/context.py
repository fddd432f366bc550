"""A question's context for grading: everything a grade reads besides the answer. The only ORM reads in scoring.

Its prompt and references encoded by the model version (from the model's memory, the database, or encoded now),
its calibration and grading policy, the teacher's corrections so far (evidence) and the class's earlier answers
(peers). Reads never write: what was encoded here and the database lacks is handed back (``unsaved_*``) for the
grading service to store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from grader.scoring.alignment import Tokens
from grader.scoring.calibration import Calibration, Evidence
from grader.scoring.model import GradingModel, text_sha256
from grader.scoring.signals import Peers, QuestionEncoding, answer_signals

if TYPE_CHECKING:  # the ORM is imported where it is read: evaluation and bench grade without Django's app registry
    from grader.models import ModelVersion, Question, ReferenceAnswer


@dataclass(frozen=True)
class GradingPolicy:
    max_points: Decimal
    step: float  # points are rounded to this
    pass_fraction: float  # of full points: the pass mark
    review_risk: float  # the probability of a wrong pass/fail decision the teacher accepts before reviewing

    @classmethod
    def defaults(cls, *, max_points: Decimal, review_risk: float | None = None) -> GradingPolicy:
        return cls(
            max_points=max_points,
            step=settings.GRADER_POINTS_STEP,
            pass_fraction=settings.GRADER_PASS_FRACTION,
            review_risk=settings.GRADER_REVIEW_RISK if review_risk is None else review_risk,
        )


@dataclass(frozen=True)
class PeerAnswers:
    """The class's earlier answers to a question, stored by this version: their vectors' sum and their texts'
    hashes (an answer seen before must not vote for itself)."""

    total: np.ndarray | None = None
    hashes: frozenset[str] = frozenset()

    def for_answer(self, *, text_hash: str, vector: np.ndarray) -> Peers:
        if self.total is None:
            return Peers.none()
        if text_hash in self.hashes:
            return Peers(total=self.total - vector, count=len(self.hashes) - 1)
        return Peers(total=self.total, count=len(self.hashes))

    def adding(self, *, text_hash: str, vector: np.ndarray) -> PeerAnswers:
        total = vector.astype(np.float64) if self.total is None else self.total + vector
        return PeerAnswers(total=total, hashes=self.hashes | {text_hash})


@dataclass(frozen=True)
class UnsavedVector:
    """Something encoded while grading that the database does not hold yet."""

    owner_id: int  # the question (answers) or the reference answer (references)
    text_hash: str
    vector: np.ndarray
    cold_fraction: float | None = None  # answers only: the grade before the question's corrections


@dataclass(frozen=True)
class QuestionContext:
    encoding: QuestionEncoding
    calibration: Calibration
    policy: GradingPolicy
    evidence: Evidence = field(default_factory=Evidence.empty)
    peers: PeerAnswers = field(default_factory=PeerAnswers)
    question_id: int | None = None
    reference_ids: tuple[int, ...] = ()  # the references' ids, in the encoding's order
    unsaved_references: tuple[UnsavedVector, ...] = ()
    unsaved_corrected_answers: tuple[UnsavedVector, ...] = ()


def credit_band(question: Question | None = None) -> tuple[float, float]:
    """The similarities that earn nothing and full credit: the question's own, else the deployment's."""
    zero = None if question is None else question.zero_credit_similarity
    full = None if question is None else question.full_credit_similarity
    return (
        settings.GRADER_ZERO_CREDIT_SIMILARITY if zero is None else zero,
        settings.GRADER_FULL_CREDIT_SIMILARITY if full is None else full,
    )


@lru_cache(maxsize=4)
def _calibration_file(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def calibration_for(question: Question | None = None) -> Calibration:
    """The deployment's calibration (GRADER_CALIBRATION_PATH) or the linear ramp, in the question's credit band."""
    zero, full = credit_band(question)
    if settings.GRADER_CALIBRATION_PATH:
        data = _calibration_file(settings.GRADER_CALIBRATION_PATH)
        return Calibration.from_dict(data.get("full_calibration", data), zero_credit=zero, full_credit=full)
    return Calibration(zero_credit=zero, full_credit=full)


def context_from_texts(
    *,
    model: GradingModel,
    prompt: str,
    references: Sequence[str],
    calibration: Calibration,
    policy: GradingPolicy,
    corrected: Sequence[tuple[str, float]] = (),
) -> QuestionContext:
    """A question given by its texts, encoded by ``model``: how the promotion gate grades held-out answers.

    ``corrected``: answers a teacher graded, (text, fraction of full points), as the feedback stage's evidence (the
    last GRADER_EVIDENCE_MAX_CORRECTIONS, as a worker reads them); none: the question's first answers."""
    encoding = _encoding(
        model,
        prompt=prompt,
        references=list(references),
        reference_vectors=model.cached_vectors(list(references)),
        prompt_vector=model.cached_vectors([prompt])[0],
    )
    corrected = list(corrected)[-settings.GRADER_EVIDENCE_MAX_CORRECTIONS :]
    evidence = Evidence.empty()
    if corrected:
        texts = [text for text, _ in corrected]
        vectors, tokens, colds = encode_corrected(model=model, encoding=encoding, calibration=calibration, texts=texts)
        evidence = Evidence(
            teacher=np.array([fraction for _, fraction in corrected]),
            cold=np.array(colds),
            vectors=vectors,
            tokens=tuple(tokens),
        )
    return QuestionContext(encoding=encoding, calibration=calibration, policy=policy, evidence=evidence)


def encode_corrected(
    *, model: GradingModel, encoding: QuestionEncoding, calibration: Calibration, texts: Sequence[str]
) -> tuple[np.ndarray, list[Tokens], list[float]]:
    """Corrected answers encoded by ``model`` now, each with its cold grade as if it were new (no peers): how a
    version that never graded them holds them as evidence. Vectors, token vectors as the model keeps them (so a
    later ``cached_tokens`` finds them without another run), cold fractions."""
    vectors, tokens = model.encode_with_tokens(list(texts))
    colds = [
        calibration.cold_fraction(
            answer_signals(
                answer=text, vector=vector, tokens=answer_tokens, question=encoding, peers=Peers.none()
            ).features
        )
        for text, vector, answer_tokens in zip(texts, vectors, tokens, strict=True)
    ]
    return vectors, model.remember_tokens(texts, tokens), colds


def _encoding(
    model: GradingModel, *, prompt: str, references: list[str], reference_vectors: np.ndarray, prompt_vector: np.ndarray
) -> QuestionEncoding:
    return QuestionEncoding(
        prompt=prompt,
        references=tuple(references),
        reference_vectors=reference_vectors,
        prompt_vector=prompt_vector,
        prompt_token_ids=tuple(model.token_ids(prompt)),
        reference_tokens=tuple(model.cached_tokens(references)),
        scale=model.scale,
    )


def question_contexts(
    *, model: GradingModel, version: ModelVersion, questions: Sequence[Question]
) -> dict[int, QuestionContext]:
    """The context of each question (with ``reference_answers`` prefetched), by question id.

    One encode call for the prompts and references this process has not seen, one read of the stored reference
    vectors, and per question one read each of its corrections and its earlier answers.
    """
    questions = list({question.pk: question for question in questions}.values())
    references = {question.pk: list(question.reference_answers.all()) for question in questions}
    for pk, rows in references.items():
        if not rows:
            raise ValueError(f"question {pk} has no reference answer")
    reference_vectors, unsaved = _reference_vectors(
        model=model, version=version, references=[row for rows in references.values() for row in rows]
    )
    prompts = model.cached_vectors([question.prompt for question in questions])
    model.cached_tokens([row.text for rows in references.values() for row in rows])  # one encode call for all
    contexts = {}
    for question, prompt_vector in zip(questions, prompts, strict=True):
        rows = references[question.pk]
        encoding = _encoding(
            model,
            prompt=question.prompt,
            references=[row.text for row in rows],
            reference_vectors=np.stack([reference_vectors[row.pk] for row in rows]),
            prompt_vector=prompt_vector,
        )
        calibration = calibration_for(question)
        evidence, unsaved_corrected = _evidence(model=model, version=version, question=question, encoding=encoding,
                                                calibration=calibration)  # fmt: skip
        contexts[question.pk] = QuestionContext(
            encoding=encoding,
            calibration=calibration,
            policy=GradingPolicy.defaults(max_points=Decimal(question.max_points), review_risk=question.review_risk),
            evidence=evidence,
            peers=_peers(version=version, question=question),
            question_id=question.pk,
            reference_ids=tuple(row.pk for row in rows),
            unsaved_references=tuple(item for item in unsaved if item.owner_id in {row.pk for row in rows}),
            unsaved_corrected_answers=unsaved_corrected,
        )
    return contexts


def _reference_vectors(
    *, model: GradingModel, version: ModelVersion, references: Sequence[ReferenceAnswer]
) -> tuple[dict[int, np.ndarray], list[UnsavedVector]]:
    """A vector per reference id: from the model's memory, else the database (if stored for this text), else
    encoded now (and handed back as unsaved)."""
    known = model.known_vectors([reference.text for reference in references])
    vectors = {reference.pk: known[reference.text] for reference in references if reference.text in known}
    missing = [reference for reference in references if reference.pk not in vectors]
    if not missing:
        return vectors, []
    from grader.models import ReferenceEmbedding

    stored = {
        row.reference_id: row
        for row in ReferenceEmbedding.objects.filter(
            model_version=version, reference_id__in=[reference.pk for reference in missing]
        ).only("reference_id", "text_sha256", "vector")
    }
    stale = []
    found = {}
    for reference in missing:
        row = stored.get(reference.pk)
        if row is not None and row.text_sha256 == text_sha256(reference.text):
            found[reference.text] = vectors[reference.pk] = np.frombuffer(bytes(row.vector), dtype="<f4")
        else:
            stale.append(reference)
    unsaved = []
    if stale:
        # Edited since it was stored, or new: encoded again, never served stale.
        for reference, vector in zip(stale, model.encode([reference.text for reference in stale]), strict=True):
            found[reference.text] = vectors[reference.pk] = vector
            unsaved.append(UnsavedVector(owner_id=reference.pk, text_hash=text_sha256(reference.text), vector=vector))
    model.remember_vectors(found)
    return vectors, unsaved


def _evidence(
    *, model: GradingModel, version: ModelVersion, question: Question, encoding: QuestionEncoding,
    calibration: Calibration,
) -> tuple[Evidence, tuple[UnsavedVector, ...]]:  # fmt: skip
    """The question's corrected answers: the teacher's grade, the grade before correction, and the vectors."""
    from grader.models import AnswerEmbedding, Submission

    corrected = list(
        Submission.objects.filter(question=question, corrected_points__isnull=False)
        .order_by("-updated_at")
        .values_list("answer", "corrected_points")[: settings.GRADER_EVIDENCE_MAX_CORRECTIONS]
    )
    if not corrected:
        return Evidence.empty(), ()
    by_hash = {text_sha256(answer): (answer, points) for answer, points in corrected}
    stored = {
        row.text_sha256: (np.frombuffer(bytes(row.vector), dtype="<f4"), row.cold_fraction)
        for row in AnswerEmbedding.objects.filter(question=question, model_version=version, text_sha256__in=by_hash)
    }
    unsaved = []
    missing = [text_hash for text_hash in by_hash if text_hash not in stored]
    if missing:
        # Corrected before this model version existed: encoded now, its cold grade as if new (no peers).
        texts = [by_hash[text_hash][0] for text_hash in missing]
        vectors, _, colds = encode_corrected(model=model, encoding=encoding, calibration=calibration, texts=texts)
        for text_hash, vector, cold in zip(missing, vectors, colds, strict=True):
            stored[text_hash] = (vector, cold)
            unsaved.append(UnsavedVector(owner_id=question.pk, text_hash=text_hash, vector=vector,
                                         cold_fraction=cold))  # fmt: skip
    max_points = float(question.max_points)
    hashes = list(by_hash)
    return (
        Evidence(
            teacher=np.array([float(by_hash[text_hash][1] or 0) / max_points for text_hash in hashes]),
            cold=np.array([stored[text_hash][1] for text_hash in hashes]),
            vectors=np.stack([stored[text_hash][0] for text_hash in hashes]),
            tokens=tuple(model.cached_tokens([by_hash[text_hash][0] for text_hash in hashes])),
        ),
        tuple(unsaved),
    )


def _peers(*, version: ModelVersion, question: Question) -> PeerAnswers:
    from grader.models import AnswerEmbedding

    rows = list(
        AnswerEmbedding.objects.filter(question=question, model_version=version)
        .order_by("-id")
        .values_list("text_sha256", "vector")[: settings.GRADER_CONSENSUS_MAX_ANSWERS]
    )
    if not rows:
        return PeerAnswers()
    total = np.zeros(len(bytes(rows[0][1])) // 4, dtype=np.float64)
    for _, vector in rows:
        total += np.frombuffer(bytes(vector), dtype="<f4")
    return PeerAnswers(total=total, hashes=frozenset(text_hash for text_hash, _ in rows))
