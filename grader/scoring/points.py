"""Turn a cosine similarity into points on a question's scale."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def similarity_to_points(
    *, similarity: float, max_points: Decimal, zero_credit: float, full_credit: float, step: float
) -> Decimal:
    """Linear between the zero-credit and full-credit similarities, rounded to ``step``, inside [0, max_points].

    A non-finite similarity (it cannot happen with normalized embeddings, but a broken model could produce it)
    earns nothing rather than a crash or a NaN grade.
    """
    if not math.isfinite(similarity) or full_credit <= zero_credit:
        fraction = 0.0
    else:
        fraction = (similarity - zero_credit) / (full_credit - zero_credit)
    fraction = min(1.0, max(0.0, fraction))
    raw = Decimal(str(fraction)) * max_points
    if step > 0:
        step_decimal = Decimal(str(step))
        raw = (raw / step_decimal).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * step_decimal
    return min(max_points, max(Decimal("0"), raw)).quantize(Decimal("0.01"))
