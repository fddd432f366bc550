"""The step after the similarities: calibrated points, a confidence, and whether a teacher must look first.

Reads what the question has taught us so far (the class's earlier answers, the teacher's corrections) and stores
each answer's vector for the answers after it. Effective at once: a correction changes the next grade, no
retraining needed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache

import numpy as np
from django.conf import settings

from grader.models import AnswerEmbedding, ModelVersion, Question, Submission
from grader.scoring.alignment import Tokens, reference_alignment
from grader.scoring.calibration import Calibration, Evidence
from grader.scoring.decision import Decision, decide
from grader.scoring.encoder import Encoder
from grader.scoring.features import MIN_PEERS, answer_features, demoted_similarity
from grader.scoring.references import reference_vectors, text_tokens

_prompt_lock = threading.Lock()
_prompt_vectors: dict[tuple[int | None, str], np.ndarray] = {}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=4)
def _load_calibration(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def calibration_for(question: Question) -> Calibration:
    zero = question.zero_credit_similarity
    full = question.full_credit_similarity
    zero = settings.GRADER_ZERO_CREDIT_SIMILARITY if zero is None else zero
    full = settings.GRADER_FULL_CREDIT_SIMILARITY if full is None else full
    if settings.GRADER_CALIBRATION_PATH:
        data = _load_calibration(settings.GRADER_CALIBRATION_PATH)
        return Calibration.from_dict(data.get("full_calibration", data), zero_credit=zero, full_credit=full)
    return Calibration(zero_credit=zero, full_credit=full)


def _prompt_vector(encoder: Encoder, prompt: str) -> np.ndarray:
    key = (encoder.version_id, _sha(prompt))
    with _prompt_lock:
        vector = _prompt_vectors.get(key)
    if vector is None:
        vector = encoder.encode([prompt])[0]
        with _prompt_lock:
            if len(_prompt_vectors) > 2048:
                _prompt_vectors.clear()
            _prompt_vectors[key] = vector
    return vector


def _on_base_scale(
    encoder: Encoder,
    similarity: float,
    question_similarity: float,
    consensus: float | None,
    demoted: float,
    alignment: float,
) -> tuple[float, float, float | None, float, float]:
    """The similarities as the calibration, the ramp and the guards expect them: on the base model's scale."""
    if encoder.scale is None:
        return similarity, question_similarity, consensus, demoted, alignment
    return encoder.scale.similarities(
        similarity=similarity,
        question_similarity=question_similarity,
        consensus=consensus,
        demoted=demoted,
        alignment=alignment,
    )


def _vector(row: AnswerEmbedding) -> np.ndarray:
    return np.frombuffer(bytes(row.vector), dtype="<f4")


def _evidence(
    *, encoder: Encoder, model_version: ModelVersion, question: Question, calibration: Calibration, prompt_vector
) -> Evidence:
    """The question's corrected answers: the teacher's grade, the grade before correction, and the vector."""
    corrected = list(
        Submission.objects.filter(question=question, corrected_points__isnull=False)
        .order_by("-updated_at")
        .values_list("answer", "corrected_points")[: settings.GRADER_EVIDENCE_MAX_CORRECTIONS]
    )
    if not corrected:
        return Evidence.empty()
    by_sha = {_sha(answer): (answer, points) for answer, points in corrected}
    stored = {
        row.text_sha256: row
        for row in AnswerEmbedding.objects.filter(
            question=question, model_version=model_version, text_sha256__in=by_sha
        )
    }
    missing = [sha for sha in by_sha if sha not in stored]
    if missing:
        # Corrected before this model version existed: encode once now, graded as if new.
        texts = [by_sha[sha][0] for sha in missing]
        vectors, tokens = encoder.encode_with_tokens(texts)
        reference_rows = list(question.reference_answers.all())
        references = [reference.text for reference in reference_rows]
        reference_matrix = reference_vectors(encoder=encoder, model_version=model_version, references=reference_rows)
        references_tokens = text_tokens(encoder=encoder, model_version=model_version, texts=references)
        question_ids = encoder.token_ids(question.prompt)
        reference_questions = reference_matrix @ prompt_vector
        for sha, text, vector, answer_tokens in zip(missing, texts, vectors, tokens, strict=True):
            answer_references = reference_matrix @ vector
            question_similarity = float(prompt_vector @ vector)
            similarity, question_similarity, _, demoted, alignment = _on_base_scale(
                encoder,
                float(np.max(answer_references)),
                question_similarity,
                None,
                demoted_similarity(answer_references, question_similarity, reference_questions),
                reference_alignment(answer_tokens, references_tokens, question_ids),
            )
            features = answer_features(
                similarity=similarity,
                question_similarity=question_similarity,
                consensus=None,
                demoted=demoted,
                alignment=alignment,
                answer=text,
                question=question.prompt,
                references=references,
            )
            stored[sha], _ = AnswerEmbedding.objects.get_or_create(
                question=question,
                model_version=model_version,
                text_sha256=sha,
                defaults={
                    "vector": vector.astype("<f4").tobytes(),
                    "cold_fraction": calibration.cold_fraction(features),
                },
            )
    max_points = float(question.max_points)
    shas = list(by_sha)
    return Evidence(
        teacher=np.array([float(by_sha[sha][1]) / max_points for sha in shas]),
        cold=np.array([stored[sha].cold_fraction for sha in shas]),
        vectors=np.stack([_vector(stored[sha]) for sha in shas]),
        tokens=tuple(text_tokens(encoder=encoder, model_version=model_version, texts=[by_sha[sha][0] for sha in shas])),
    )


def review_answers(
    *,
    encoder: Encoder,
    model_version: ModelVersion,
    question: Question,
    answers: Sequence[str],
    answer_vectors: np.ndarray,
    answer_tokens: Sequence[Tokens],
    reference_similarities: np.ndarray,
    references: Sequence[str],
    reference_matrix: np.ndarray,
) -> list[Decision]:
    """One decision per answer. ``reference_similarities``: shape (answers, references); ``reference_matrix``:
    the references' vectors, one row each; ``answer_tokens``: the answers' token vectors, for the alignment."""
    calibration = calibration_for(question)
    prompt_vector = _prompt_vector(encoder, question.prompt)
    reference_questions = reference_matrix @ prompt_vector
    references_tokens = text_tokens(encoder=encoder, model_version=model_version, texts=references)
    question_ids = encoder.token_ids(question.prompt)
    evidence = _evidence(encoder=encoder, model_version=model_version, question=question, calibration=calibration,
                         prompt_vector=prompt_vector)  # fmt: skip
    peers = AnswerEmbedding.objects.filter(question=question, model_version=model_version).order_by("-id")
    peer_rows = list(peers.values_list("text_sha256", "vector")[: settings.GRADER_CONSENSUS_MAX_ANSWERS])
    peer_total = np.zeros(answer_vectors.shape[1], dtype=np.float64)
    peer_shas = set()
    for sha, vector in peer_rows:
        peer_total += np.frombuffer(bytes(vector), dtype="<f4")
        peer_shas.add(sha)
    risk = settings.GRADER_REVIEW_RISK if question.review_risk is None else question.review_risk
    decisions = []
    new_rows: list[AnswerEmbedding] = []
    rows = zip(answers, answer_vectors, answer_tokens, reference_similarities, strict=True)
    for answer, vector, tokens, similarities in rows:
        sha = _sha(answer)
        total, count = peer_total, len(peer_shas)
        if sha in peer_shas:  # the same text seen before must not vote for itself
            total, count = peer_total - vector, count - 1
        norm = float(np.linalg.norm(total))
        question_similarity = float(prompt_vector @ vector)
        similarity, question_similarity, consensus, demoted, alignment = _on_base_scale(
            encoder,
            float(np.max(similarities)),
            question_similarity,
            float(vector @ total / norm) if count >= MIN_PEERS and norm > 0 else None,
            demoted_similarity(similarities, question_similarity, reference_questions),
            reference_alignment(tokens, references_tokens, question_ids),
        )
        decision = decide(
            similarity=similarity,
            question_similarity=question_similarity,
            consensus=consensus,
            demoted=demoted,
            alignment=alignment,
            tokens=tokens,
            vector=vector,
            answer=answer,
            question=question.prompt,
            references=references,
            evidence=evidence,
            calibration=calibration,
            max_points=Decimal(question.max_points),
            step=settings.GRADER_POINTS_STEP,
            pass_fraction=settings.GRADER_PASS_FRACTION,
            review_risk=risk,
        )
        decisions.append(decision)
        if sha not in peer_shas and answer.strip():
            new_rows.append(
                AnswerEmbedding(
                    question=question,
                    model_version=model_version,
                    text_sha256=sha,
                    vector=np.asarray(vector, dtype="<f4").tobytes(),
                    cold_fraction=decision.cold_fraction,
                )
            )
            peer_total = peer_total + vector
            peer_shas.add(sha)
    # One INSERT for the whole batch; a row another worker stored meanwhile wins (same text, same version). In key
    # order: two workers inserting the same new texts in different orders each waited for the other's first row
    # (PostgreSQL "deadlock detected", seen in the load test), and the batch went back to the queue.
    new_rows.sort(key=lambda row: row.text_sha256)
    AnswerEmbedding.objects.bulk_create(new_rows, ignore_conflicts=True)
    return decisions
