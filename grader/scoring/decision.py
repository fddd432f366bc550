"""The decision: an answer's signals and its question's context → points, a confidence, and whether a teacher must
look first. Pure Python + numpy: the workers, `manage.py evaluate`, the promotion gate and the admin all call it.

Three steps: the calibration turns the signals into a fraction of full points (cold, then the question's
corrections); the guards look at the words for answers built to fool a similarity model (an embedding model rates
"X is not Y" close to "X is Y" and a bag of the reference's words close to the reference) and cap the grade below
the pass mark or send the answer to a teacher; the confidence is the probability that the teacher would agree on
pass or fail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

import numpy as np

from grader.scoring.alignment import Tokens
from grader.scoring.calibration import error_std, pass_confidence
from grader.scoring.context import QuestionContext
from grader.scoring.signals import Signals
from grader.scoring.text import STOPWORDS, bigrams, content_words, negation_count, words


class Reason(StrEnum):
    """Why a grade is capped or waits for a teacher; stored on the submission, comma-separated."""

    BLANK = "blank"
    QUESTION_COPY = "question_copy"
    NEGATION = "negation"
    KEYWORD_SALAD = "keyword_salad"
    PADDING = "padding"
    LOW_CONFIDENCE = "low_confidence"


@dataclass(frozen=True)
class Decision:
    fraction: float  # of full points, before rounding
    cold_fraction: float  # the same before the question's corrections: what a correction's error is measured on
    points: Decimal
    confidence: float  # probability that the teacher would agree on pass or fail
    needs_review: bool
    reasons: tuple[Reason, ...]


def decide(
    signals: Signals, *, answer: str, vector: np.ndarray | None, tokens: Tokens | None, context: QuestionContext
) -> Decision:
    """``vector``/``tokens``: the answer's, for the corrected answers it is close to (the feedback stage)."""
    calibration, evidence, policy = context.calibration, context.evidence, context.policy
    cold = calibration.cold_fraction(signals.features)
    fraction = calibration.fraction(cold=cold, vector=vector, evidence=evidence, tokens=tokens)
    guard = check_answer(
        answer=answer,
        question=context.encoding.prompt,
        references=context.encoding.references,
        pass_fraction=policy.pass_fraction,
    )
    reasons = list(guard.reasons)
    if guard.cap_fraction is not None:
        fraction = min(fraction, guard.cap_fraction)
    confidence = pass_confidence(
        fraction=fraction, pass_fraction=policy.pass_fraction, std=error_std(calibration=calibration, evidence=evidence)
    )
    if guard.reasons == (Reason.BLANK,):
        confidence = 1.0
    uncertain = 1.0 - confidence > policy.review_risk
    if uncertain:
        reasons.append(Reason.LOW_CONFIDENCE)
    return Decision(
        fraction=fraction,
        cold_fraction=cold,
        points=to_points(fraction, max_points=policy.max_points, step=policy.step),
        confidence=confidence,
        needs_review=guard.needs_review or uncertain,
        reasons=tuple(reasons),
    )


def to_points(fraction: float, *, max_points: Decimal, step: float) -> Decimal:
    """A fraction of full points on the question's scale, rounded to ``step``, inside [0, max_points].

    A non-finite fraction (a broken model could produce one) earns nothing rather than a crash or a NaN grade.
    """
    fraction = min(1.0, max(0.0, fraction)) if math.isfinite(fraction) else 0.0
    raw = Decimal(str(fraction)) * max_points
    if step > 0:
        step_decimal = Decimal(str(step))
        raw = (raw / step_decimal).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * step_decimal
    return min(max_points, max(Decimal("0"), raw)).quantize(Decimal("0.01"))


# The guards. Pure Python: they read words, not vectors.
# A reference-like answer whose negations differ from the reference's: share of the reference's words it holds.
NEGATION_OVERLAP = 0.8
# ...and that is not much longer than it: a student who goes on to explain what something is *not* is fine.
NEGATION_MAX_EXTRA_WORDS = 6
# Keyword salad: most of its content words are the reference's, in an order the reference never uses,
# with almost no function words.
SALAD_REFERENCE_SHARE = 0.7
SALAD_MAX_BIGRAM_SHARE = 0.25
SALAD_MAX_FUNCTION_SHARE = 0.2
SALAD_MIN_COVERAGE = 0.6
# Question copy: nothing beyond the question's own content words, or a long restatement with at most this many.
QUESTION_COPY_MAX_NEW = 2
# Nothing new *and* the question's own word order: copied, worth nothing. Nothing new in other words ("a pointer
# to a function" for "What is a function pointer?", "both") may be a terse right answer: a teacher decides.
QUESTION_COPY_MIN_BIGRAM_SHARE = 0.5
QUESTION_COPY_MIN_SHARE = 0.8
# Padding: the question restated (this share of its content words) around mostly foreign words.
PADDING_MIN_RESTATED = 0.8
PADDING_MIN_FOREIGN_SHARE = 0.6


@dataclass(frozen=True)
class GuardResult:
    cap_fraction: float | None  # the grade may not exceed this fraction of full points
    needs_review: bool
    reasons: tuple[Reason, ...]


def check_answer(*, answer: str, question: str, references: Sequence[str], pass_fraction: float) -> GuardResult:
    below_pass = max(0.0, pass_fraction - 0.1)
    if not answer.strip():
        return GuardResult(cap_fraction=0.0, needs_review=False, reasons=(Reason.BLANK,))
    reasons: list[Reason] = []
    cap: float | None = None
    review = False
    answer_tokens = words(answer)
    answer_content = content_words(answer)
    question_content = set(content_words(question))

    new_words = [word for word in answer_content if word not in question_content]
    repeated_share = 1.0 - len(new_words) / len(answer_content) if answer_content else 1.0
    answer_bigrams = bigrams(answer_tokens)
    copied_share = len(answer_bigrams & bigrams(words(question))) / len(answer_bigrams) if answer_bigrams else 0.0
    if not new_words and copied_share >= QUESTION_COPY_MIN_BIGRAM_SHARE:
        reasons.append(Reason.QUESTION_COPY)
        cap, review = 0.0, True
    elif not new_words or (
        len(answer_content) >= 4
        and repeated_share >= QUESTION_COPY_MIN_SHARE
        and len(set(new_words)) <= QUESTION_COPY_MAX_NEW
    ):
        # The question's words (almost) only: a teacher decides whether they answer it.
        reasons.append(Reason.QUESTION_COPY)
        review = True

    for reference in references:
        reference_tokens = words(reference)
        reference_set = set(reference_tokens)
        if not reference_set or not answer_tokens:
            continue
        # Containment, not Jaccard: "It is not true that <reference>" adds words but keeps the whole claim.
        contained = len(set(answer_tokens) & reference_set) / len(reference_set)
        close = len(answer_tokens) <= len(reference_tokens) + NEGATION_MAX_EXTRA_WORDS
        if close and contained >= NEGATION_OVERLAP and negation_count(answer) % 2 != negation_count(reference) % 2:
            reasons.append(Reason.NEGATION)
            cap, review = _lower(cap, below_pass), True
            break

    reference_content = {word for reference in references for word in content_words(reference)}
    function_share = sum(word in STOPWORDS for word in answer_tokens) / len(answer_tokens) if answer_tokens else 0.0
    for reference in references:
        own_content = set(content_words(reference))
        # A salad replays most of one reference; a short answer that happens to lack function words does not.
        if len(answer_content) < max(4, SALAD_MIN_COVERAGE * len(own_content)):
            continue
        reference_share = sum(word in own_content for word in answer_content) / len(answer_content)
        reference_bigrams = bigrams(words(reference))
        bigram_share = len(answer_bigrams & reference_bigrams) / len(answer_bigrams) if answer_bigrams else 0.0
        if (
            reference_share >= SALAD_REFERENCE_SHARE
            and bigram_share <= SALAD_MAX_BIGRAM_SHARE
            and function_share <= SALAD_MAX_FUNCTION_SHARE
        ):
            reasons.append(Reason.KEYWORD_SALAD)
            cap, review = _lower(cap, below_pass), True
            break

    answer_set = set(answer_content)
    restated = len(question_content & answer_set) / len(question_content) if question_content else 0.0
    foreign = [word for word in answer_content if word not in question_content | reference_content]
    if restated >= PADDING_MIN_RESTATED and len(foreign) >= PADDING_MIN_FOREIGN_SHARE * len(answer_content):
        # The question restated, then mostly words neither the question nor a reference uses: a teacher decides.
        reasons.append(Reason.PADDING)
        review = True
    return GuardResult(cap_fraction=cap, needs_review=review, reasons=tuple(reasons))


def _lower(current: float | None, value: float) -> float:
    return value if current is None else min(current, value)
