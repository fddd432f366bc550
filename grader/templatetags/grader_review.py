"""Template filters that show grades in a teacher's words (the same texts as the admin's columns)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from grader.workspace.review_text import points_text, similarity_text

register = template.Library()


@register.filter
def points_out_of(points: Decimal | None, max_points: Decimal) -> str:
    """``{{ submission.final_points|points_out_of:question.max_points }}`` → ``"2.5 / 5"``."""
    return points_text(points, max_points)


@register.filter
def similarity(value: float | None) -> str:
    return similarity_text(value)
