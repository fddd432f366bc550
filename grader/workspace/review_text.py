"""The review fields in a teacher's words: statuses, confidence and the scoring step's reason codes."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from grader.models import Submission

# The codes are the scoring step's (grader/scoring/decision.py) and the API's; teachers read these.
REVIEW_REASON_TEXT: dict[str, str] = {
    "low_confidence": "The model is unsure whether this answer passes.",
    "question_copy": "The answer mostly repeats the question.",
    "negation": "The answer looks like a reference answer with its meaning negated.",
    "keyword_salad": "The answer lists the reference's key words without saying what they mean together.",
    "padding": "The answer restates the question and pads it with unrelated text.",
    "blank": "The answer is empty.",
}

# needs_review is "awaiting review" for a teacher: it is waiting for them, not merely flagged.
STATUS_TEXT: dict[str, str] = {
    Submission.Status.NEEDS_REVIEW: "awaiting review",
    Submission.Status.GRADED: "graded",
    Submission.Status.QUEUED: "queued",
    Submission.Status.GRADING: "grading",
    Submission.Status.FAILED: "failed",
}


def review_reason_texts(codes: Iterable[str]) -> list[str]:
    """One sentence per code; a code added to the scoring step before it is worded here shows as it is."""
    return [REVIEW_REASON_TEXT.get(code, code) for code in codes]


def confidence_percent(confidence: float | None) -> str:
    """``0.873`` → ``"87 %"``; ``"-"`` when not graded (or graded before confidences were recorded)."""
    return "-" if confidence is None else f"{confidence * 100:.0f} %"


def points_text(points: Decimal | None, max_points: Decimal) -> str:
    """``1.50`` of ``5.00`` → ``"1.5 / 5"``: out of how many, without the database's trailing zeros."""
    if points is None:
        return "-"
    return f"{_plain(points)} / {_plain(max_points)}"


def similarity_text(similarity: float | None) -> str:
    """``0.41898804903030396`` → ``"0.42"``: two decimals are as much as a person can use."""
    return "-" if similarity is None else f"{similarity:.2f}"


def percent(share: float | None) -> str:
    """``0.5833`` → ``"58 %"``; ``"-"`` for no value."""
    return "-" if share is None else f"{share * 100:.0f} %"


def points_derivation_text(
    *,
    similarity: float,
    zero_credit: float,
    full_credit: float,
    cold_fraction: float,
    fraction: float,
    step: float,
    points: Decimal,
    max_points: Decimal,
) -> str:
    """One sentence on how the similarity became points, with the numbers a teacher can check."""
    text = (
        f"Similarity {similarity_text(similarity)} to the closest reference; on this question's scale (no credit up "
        f"to {similarity_text(zero_credit)}, full credit from {similarity_text(full_credit)}) the answer earns "
        f"{percent(cold_fraction)} of full points"
    )
    if round(fraction, 2) != round(cold_fraction, 2):
        text += f", {percent(fraction)} after the checks and the answers you already graded for this question"
    rounding = f", rounded to steps of {_plain(Decimal(str(step)))}" if step > 0 else ""
    return f"{text}; of {_plain(max_points)} points{rounding}: {points_text(points, max_points)}."


def _plain(number: Decimal) -> str:
    # normalize() drops trailing zeros but writes 10 as 1E+1; the fixed-point format writes it back as 10.
    return f"{Decimal(number).normalize():f}"
