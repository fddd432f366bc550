"""Agreement numbers and plots come from the corrected submissions themselves."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from matplotlib.lines import Line2D

from grader.models import ModelVersion, Submission
from grader.services.review import submissions_grade_group
from grader.workspace.agreement import agreement_of, agreement_points, agreement_trend
from grader.workspace.charts import scatter_figure, trend_figure


def _correct(owner, class_answers):
    """Teacher grades: full marks to the paraphrases, none to the rest; a second version graded half of them."""
    submissions_grade_group(submissions=class_answers[:3], teacher=owner, points=Decimal("5"))
    submissions_grade_group(submissions=class_answers[3:], teacher=owner, points=Decimal("0"))
    newer = ModelVersion.objects.create(name="v2", artifact_path="missing", sha256="0" * 64)
    Submission.objects.filter(pk__in=[s.pk for s in class_answers[::2]]).update(model_version=newer)


def test_agreement_numbers_follow_the_rows(owner, class_answers):
    _correct(owner, class_answers)
    points = agreement_points(submissions=Submission.objects.all())
    rows = Submission.objects.order_by("pk")
    assert sorted((p.auto, p.teacher) for p in points) == sorted(
        (float(s.points), float(s.corrected_points)) for s in rows
    )
    summary = agreement_of(points)
    auto = np.array([float(s.points) for s in rows])
    teacher = np.array([float(s.corrected_points) for s in rows])
    assert summary.n == len(rows)
    assert summary.mae == np.mean(np.abs(auto - teacher))
    assert summary.exact_match_rate == np.mean(auto == teacher)
    assert summary.pearson == pytest.approx(np.corrcoef(auto, teacher)[0, 1], abs=1e-9)
    trend = agreement_trend(points)
    assert [t.model_version for t in trend] == ["base", "v2"]
    assert [t.agreement.n for t in trend] == [3, 3]


def test_scatter_and_trend_plots_are_drawn_from_the_data(owner, class_answers):
    _correct(owner, class_answers)
    points = agreement_points(submissions=Submission.objects.all())
    scatter = scatter_figure(points, title="ML101")
    offsets = scatter.axes[0].collections[0].get_offsets()
    assert sorted(map(tuple, offsets.tolist())) == sorted((p.auto, p.teacher) for p in points)
    trend = trend_figure(agreement_trend(points), title="ML101")
    lines = {line.get_label(): line.get_ydata() for line in trend.axes[0].get_lines() if isinstance(line, Line2D)}
    expected_mae = [t.agreement.mae for t in agreement_trend(points)]
    assert np.allclose(lines["MAE (points)"], expected_mae)


def test_agreement_page_serves_real_png_charts(client, owner, class_answers, gradient_descent_question):
    client.force_login(owner)
    empty = client.get("/admin/grader/submission/agreement/scatter.png").content
    _correct(owner, class_answers)
    page = client.get("/admin/grader/submission/agreement/", {"question": gradient_descent_question.pk})
    assert page.context["overall"].n == len(class_answers)
    html = page.content.decode()
    assert 'id="scatter-plot"' in html and 'id="trend-plot"' in html
    for chart in ["scatter", "trend"]:
        response = client.get(
            f"/admin/grader/submission/agreement/{chart}.png", {"question": gradient_descent_question.pk}
        )
        assert response["Content-Type"] == "image/png"
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n") and len(response.content) > 5000
    with_data = client.get("/admin/grader/submission/agreement/scatter.png").content
    assert with_data != empty  # the picture changes with the rows
