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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

import numpy as np

from grader.scoring.alignment import Tokens
from grader.scoring.calibration import error_std
from grader.scoring.confidence import confidence_features, shipped_confidence_model
from grader.scoring.context import QuestionContext
from grader.scoring.signals import Signals
from grader.scoring.text import STOPWORDS, Clause, bigrams, clauses, content_words, stem, words


class Reason(StrEnum):
    """Why a grade is capped or waits for a teacher; stored on the submission, comma-separated."""

    BLANK = "blank"
    QUESTION_COPY = "question_copy"
    NEGATION = "negation"
    KEYWORD_SALAD = "keyword_salad"
    LOW_CONFIDENCE = "low_confidence"


# The checks on the words: each can be wrong about a right answer, so what trips one is never stated as certain.
CHECKS = frozenset({Reason.QUESTION_COPY, Reason.NEGATION, Reason.KEYWORD_SALAD})


@dataclass(frozen=True)
class Decision:
    fraction: float  # of full points, before rounding
    cold_fraction: float  # the same before the question's corrections: what a correction's error is measured on
    points: Decimal
    confidence: float  # probability that the teacher would agree on pass or fail
    needs_review: bool
    reasons: tuple[Reason, ...]
    # what the confidence was read from (grader.scoring.confidence), for fitting it on held-out grades
    confidence_features: tuple[float, ...] = ()


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
        signals=signals,
    )
    reasons = list(guard.reasons)
    if guard.cap_fraction is not None:
        fraction = min(fraction, guard.cap_fraction)
    checked = any(reason in CHECKS for reason in guard.reasons)
    features = confidence_features(
        fraction=fraction,
        pass_fraction=policy.pass_fraction,
        std=error_std(calibration=calibration, evidence=evidence),
        signals=signals,
        checked=checked,
        corrections=len(evidence),
    )
    confidence = shipped_confidence_model().confidence(features, checked=checked)
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
        confidence_features=tuple(float(value) for value in features),
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
# A clause of the answer speaks about a clause of the reference when they share this many content stems.
CONTRADICTION_MIN_TOPICS = 2
# Keyword salad: most of its content words are the reference's, strung together without the grammar of a sentence:
# (almost) no function words, no punctuation between them, and few of the reference's word pairs.
SALAD_REFERENCE_SHARE = 0.7
SALAD_MIN_WORDS = 5
SALAD_NO_GRAMMAR_FUNCTION_SHARE = 0.17
SALAD_MAX_FUNCTION_SHARE = 0.25
SALAD_MAX_BIGRAM_SHARE = 0.25
# Question copy: nothing beyond the question's own content words, or a long restatement with at most this many.
QUESTION_COPY_MAX_NEW = 2
# Nothing new *and* the question's own word order: copied, worth nothing. Nothing new in other words ("a pointer
# to a function" for "What is a function pointer?", "both") may be a terse right answer: a teacher decides.
QUESTION_COPY_MIN_BIGRAM_SHARE = 0.5
QUESTION_COPY_MIN_SHARE = 0.8
# A restatement of the question in the model's eyes: closer to the question than to any reference, very close to the
# question, and covering little of what the reference adds to it (its key tokens, not the question's).
RESTATED_MIN_QUESTION_SIMILARITY = 0.8
RESTATED_MAX_ALIGNMENT = 0.5
# ...and adding hardly a word of its own: students who restate the question and then answer it add many.
RESTATED_MAX_NEW = 3


@dataclass(frozen=True)
class GuardResult:
    cap_fraction: float | None  # the grade may not exceed this fraction of full points
    needs_review: bool
    reasons: tuple[Reason, ...]


def check_answer(
    *, answer: str, question: str, references: Sequence[str], pass_fraction: float, signals: Signals | None = None
) -> GuardResult:
    """``signals``: the answer's, for the restatement check (a restated question in other words)."""
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
    elif signals is not None and len(set(new_words)) <= RESTATED_MAX_NEW and _restates_question(signals):
        # In other words, but the question all the same ("Opportunity cost is the cost of an opportunity"). Routed,
        # not capped: a terse right answer can look like this too.
        reasons.append(Reason.QUESTION_COPY)
        review = True

    if contradicts(answer, references, question):
        # Routed, not capped: the check reads words and can be wrong about a right answer (a teacher decides).
        reasons.append(Reason.NEGATION)
        review = True

    if _is_salad(answer, answer_tokens, answer_content, references):
        reasons.append(Reason.KEYWORD_SALAD)
        cap, review = _lower(cap, below_pass), True
    return GuardResult(cap_fraction=cap, needs_review=review, reasons=tuple(reasons))


def _restates_question(signals: Signals) -> bool:
    return (
        signals.question_similarity >= RESTATED_MIN_QUESTION_SIMILARITY
        and signals.question_similarity >= signals.similarity
        and signals.alignment < RESTATED_MAX_ALIGNMENT
    )


def _is_salad(answer: str, answer_tokens: list[str], answer_content: list[str], references: Sequence[str]) -> bool:
    """The reference's words without a sentence around them. Either no grammar at all (no function words, no
    punctuation between the words), or hardly any and the reference's words reshuffled (few of its word pairs)."""
    if not answer_content or len(answer_tokens) < SALAD_MIN_WORDS or re.search(r"[,;:()]|[.!?]\s+\S", answer.strip()):
        return False
    function_share = sum(word in STOPWORDS for word in answer_tokens) / len(answer_tokens)
    answer_bigrams = bigrams(answer_tokens)
    for reference in references:
        own_content = set(content_words(reference))
        reference_share = sum(word in own_content for word in answer_content) / len(answer_content)
        if reference_share < SALAD_REFERENCE_SHARE:
            continue
        bigram_share = len(answer_bigrams & bigrams(words(reference))) / len(answer_bigrams)
        if function_share <= SALAD_NO_GRAMMAR_FUNCTION_SHARE or (
            function_share <= SALAD_MAX_FUNCTION_SHARE and bigram_share <= SALAD_MAX_BIGRAM_SHARE
        ):
            return True
    return False


def contradicts(answer: str, references: Sequence[str], question: str = "") -> bool:
    """Whether the answer denies what the references state. Each clause of the answer is compared with the clauses of
    a reference that speak about the same things (CONTRADICTION_MIN_TOPICS shared content stems): it agrees with one
    stated the same way, and contradicts them if every one is denied where it is not (or the reverse), or states an
    opposite direction ("falls" for "rises", "slower" for "faster"). The answer contradicts a reference when more of
    its clauses contradict it than agree, and contradicts the references when it contradicts every one it speaks
    about. What the question names is not what a clause says about it: its stems are left out of the comparison
    ("linked lists have no set size" and "linked lists can be of variable length" share only the question's words).
    The model rates a contradicting answer close to the reference; the words say otherwise."""
    given = {stem(word) for word in content_words(question)}
    answer_clauses = [clause.without(given) for clause in clauses(answer)]
    verdicts = []
    for reference in references:
        reference_clauses = [clause.without(given) for clause in clauses(reference)]
        agree = contradict = 0
        for mine in answer_clauses:
            votes = [_clause_vote(mine, theirs) for theirs in reference_clauses]
            votes = [vote for vote in votes if vote is not None]
            if any(votes):
                agree += 1
            elif votes:
                contradict += 1
        if agree or contradict:
            verdicts.append(contradict >= max(1, agree))
    return bool(verdicts) and all(verdicts)


def _clause_vote(mine: Clause, theirs: Clause) -> bool | None:
    """True: the two clauses say the same; False: one denies the other; None: they speak about different things."""
    if mine.condition or theirs.condition:
        return None
    shared = len(mine.topics & theirs.topics)
    common = [name for name in mine.directions if name in theirs.directions]
    # Directions in common speak about the same thing once the clauses share a topic, or one has none left besides
    # the question's ("it rises" for "What happens to demand when the price rises?").
    if shared < CONTRADICTION_MIN_TOPICS and not (common and shared >= min(1, len(mine.topics), len(theirs.topics))):
        return None
    if common:
        return all(mine.directions[name] == theirs.directions[name] for name in common)
    return mine.denied == theirs.denied


def _lower(current: float | None, value: float) -> float:
    return value if current is None else min(current, value)
