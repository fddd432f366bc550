"""Agreement numbers and plots come from the corrected submissions themselves."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

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
    trend = agreement_trend(points)
    error = trend_figure(trend, title="ML101", metric="error")
    assert np.allclose([bar.get_height() for bar in error.axes[0].patches], [t.agreement.mae for t in trend])
    assert error.axes[0].get_ylabel() == "mean error (points)"
    kept = trend_figure(trend, title="ML101", metric="agreement")
    expected = [t.agreement.exact_match_rate * 100 for t in trend]
    assert np.allclose([bar.get_height() for bar in kept.axes[0].patches], expected)
    assert kept.axes[0].get_ylim() == (0.0, 110.0)


def test_agreement_page_serves_real_png_charts(client, owner, class_answers, gradient_descent_question):
    client.force_login(owner)
    empty = client.get("/admin/grader/submission/agreement/scatter.png").content
    _correct(owner, class_answers)
    page = client.get("/admin/grader/submission/agreement/", {"question": gradient_descent_question.pk})
    assert page.context["overall"].n == len(class_answers)
    html = page.content.decode()
    assert 'id="scatter-plot"' in html
    assert all(f'id="trend-{metric}"' in html for metric in ["pearson", "error", "agreement"])
    for chart, params in [("scatter", {}), ("trend", {"metric": "pearson"}), ("trend", {"metric": "agreement"})]:
        response = client.get(
            f"/admin/grader/submission/agreement/{chart}.png", {"question": gradient_descent_question.pk, **params}
        )
        assert response["Content-Type"] == "image/png"
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n") and len(response.content) > 5000
    with_data = client.get("/admin/grader/submission/agreement/scatter.png").content
    assert with_data != empty  # the picture changes with the rows


def test_too_little_data_is_said_in_words_and_shares_in_percent(
    client, owner, class_answers, gradient_descent_question
):
    client.force_login(owner)
    kept = class_answers[0]
    submissions_grade_group(submissions=[kept], teacher=owner, points=kept.points)
    page = client.get("/admin/grader/submission/agreement/", {"question": gradient_descent_question.pk})
    overall = page.context["overall"]
    assert (overall.n, overall.pearson, overall.exact_match_rate) == (1, None, 1.0)
    html = page.content.decode()
    assert "Pearson needs at least 3 corrected answers (1 so far)." in html
    assert "100 %" in html and "1.000" not in html
    assert client.get("/admin/grader/submission/agreement/trend.png", {"metric": "nonsense"}).status_code == 404


def test_pearson_waits_for_grades_that_differ(owner, class_answers):
    submissions_grade_group(submissions=class_answers, teacher=owner, points=Decimal("2"))
    summary = agreement_of(agreement_points(submissions=Submission.objects.all()))
    assert summary.pearson is None and summary.pearson_missing.startswith("Pearson needs teacher's grades that differ")
