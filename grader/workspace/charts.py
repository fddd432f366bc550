"""Agreement charts drawn on the server as PNG (matplotlib, no browser-side library, nothing from a CDN).

Figure and the Agg canvas directly, not pyplot: no global state, safe in a threaded web server.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from grader.workspace.agreement import Agreement, AgreementPoint, TrendPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib is imported where a chart is drawn: Django imports this module (through the admin) in every
# process, the grading workers included, and matplotlib would cost each of them tens of MB for nothing.


def scatter_figure(points: list[AgreementPoint], *, title: str) -> Figure:
    """Auto points against the teacher's points, one dot per corrected submission, and the diagonal."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.6, 3.4), dpi=100)
    axes = figure.add_subplot()
    axes.scatter([p.auto for p in points], [p.teacher for p in points], alpha=0.6, color="#2f6fab")
    top = max([1.0] + [p.auto for p in points] + [p.teacher for p in points])
    axes.plot([0, top], [0, top], linestyle="--", color="#999999", linewidth=1)
    axes.set_xlim(-0.2, top + 0.2)
    axes.set_ylim(-0.2, top + 0.2)
    axes.set_xlabel("auto grade (points)")
    axes.set_ylabel("teacher's grade (points)")
    axes.set_title(title if points else f"{title}: no corrected submissions yet")
    figure.tight_layout()
    return figure


@dataclass(frozen=True)
class TrendMetric:
    label: str  # the y axis
    title: str
    value: Callable[[Agreement], float | None]
    limits: tuple[float, float] | None  # a fixed axis where the metric has one, with room for the value labels


TREND_METRICS: dict[str, TrendMetric] = {
    "pearson": TrendMetric(
        label="Pearson correlation", title="Correlation with your grades",
        value=lambda agreement: agreement.pearson, limits=(-1.0, 1.15),
    ),
    "error": TrendMetric(
        label="mean error (points)", title="Mean error, in points",
        value=lambda agreement: agreement.mae, limits=None,
    ),
    "agreement": TrendMetric(
        label="kept as graded (%)", title="Auto grades kept as they were",
        value=lambda agreement: None if agreement.exact_match_rate is None else agreement.exact_match_rate * 100,
        limits=(0.0, 110.0),
    ),
}  # fmt: skip


def trend_figure(trend: list[TrendPoint], *, title: str, metric: str) -> Figure:
    """One metric (a key of TREND_METRICS) per model version, oldest version first, as bars on its own axis."""
    from matplotlib.figure import Figure

    spec = TREND_METRICS[metric]
    figure = Figure(figsize=(3.6, 3.4), dpi=100)
    axes = figure.add_subplot()
    labels = [point.model_version for point in trend]
    positions = list(range(len(trend)))
    values = [spec.value(point.agreement) for point in trend]
    # An undefined value (e.g. Pearson of two answers) is a missing bar marked "n/a", not a zero.
    axes.bar(positions, [0.0 if v is None else v for v in values], color="#2f6fab", width=0.6)
    for position, value in zip(positions, values, strict=True):
        text = "n/a" if value is None else _rounded(value, places=0 if metric == "agreement" else 2)
        axes.annotate(text, (position, 0 if value is None else value), ha="center", va="bottom", fontsize=9)
    if spec.limits:
        axes.set_ylim(*spec.limits)
    axes.axhline(0, color="#999999", linewidth=0.8)
    axes.set_xticks(positions, labels, rotation=20, ha="right")
    axes.set_xlabel("model version")
    axes.set_ylabel(spec.label)
    axes.set_title(spec.title if trend else f"{spec.title}: no corrected answers yet", fontsize=10)
    figure.suptitle(title, fontsize=9, color="#666666")
    axes.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    return figure


def _rounded(value: float, *, places: int) -> str:
    # Half up, as the page's tables round (Django's floatformat): 1.125 reads 1.13 in both, not 1.12 in one.
    return str(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def figure_png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
