"""Agreement charts drawn on the server as PNG (matplotlib, no browser-side library, nothing from a CDN).

Figure and the Agg canvas directly, not pyplot: no global state, safe in a threaded web server.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from grader.workspace.agreement import AgreementPoint, TrendPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib is imported where a chart is drawn: Django imports this module (through the admin) in every
# process, the grading workers included, and matplotlib would cost each of them tens of MB for nothing.


def scatter_figure(points: list[AgreementPoint], *, title: str) -> Figure:
    """Auto points against the teacher's points, one dot per corrected submission, and the diagonal."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 4.5), dpi=100)
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


def trend_figure(trend: list[TrendPoint], *, title: str) -> Figure:
    """Pearson, MAE and exact-match rate per model version, oldest version first."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4.5), dpi=100)
    axes = figure.add_subplot()
    labels = [point.model_version for point in trend]
    positions = list(range(len(trend)))
    series = {
        "Pearson": [point.agreement.pearson for point in trend],
        "MAE (points)": [point.agreement.mae for point in trend],
        "exact match": [point.agreement.exact_match_rate for point in trend],
    }
    for label, values in series.items():
        # An undefined value (e.g. Pearson of one answer) is a gap in the line, not a zero.
        axes.plot(positions, [float("nan") if v is None else v for v in values], marker="o", label=label)
    axes.set_xticks(positions, labels, rotation=20, ha="right")
    axes.set_xlabel("model version")
    axes.set_title(title if trend else f"{title}: no corrected submissions yet")
    axes.legend(loc="best")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def figure_png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
