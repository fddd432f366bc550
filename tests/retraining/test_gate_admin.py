"""The model-versions admin shows the gate's grade-level comparison, not only its verdict."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from grader.models import ModelVersion
from training.gate import GateRule, HeldOutGrades, gate_verdict

pytestmark = pytest.mark.django_db


def test_the_model_versions_page_shows_both_versions_grade_metrics_interval_and_verdict(client, base_model_version):
    rng = np.random.default_rng(5)
    human = rng.integers(0, 11, 60).astype(float)
    replaced = np.clip(human + rng.normal(0, 2, 60), 0, 10)
    candidate = np.clip(human + rng.normal(0, 1, 60), 0, 10)
    gate = gate_verdict(
        grades=HeldOutGrades(human, [10.0] * 60, candidate, replaced),
        rule=GateRule(),
        adversarial={"n": 89, "candidate": 0.9, "replaced": 0.88},
    )
    version = ModelVersion.objects.create(
        name="v7", parent=base_model_version, artifact_path="v7", sha256="0" * 64, evaluation={"gate": gate}
    )
    client.force_login(get_user_model().objects.create_superuser("operator", password="x"))

    listing = client.get(reverse("admin:grader_modelversion_changelist")).content.decode()
    detail = client.get(reverse("admin:grader_modelversion_change", args=[version.pk])).content.decode()

    rmse = f"{gate['candidate']['rmse']:.3f} / {gate['replaced']['rmse']:.3f}"
    accuracy = f"{gate['candidate']['pass_fail_accuracy']:.3f} / {gate['replaced']['pass_fail_accuracy']:.3f}"
    low, high = gate["intervals"]["rmse"]["low"], gate["intervals"]["rmse"]["high"]
    assert rmse in listing and accuracy in listing
    assert f"rmse {low:+.3f} to {high:+.3f} (95%)" in listing
    assert "Promoted: on 60 held-out answers" in listing
    assert f"{gate['candidate']['pearson']:.3f}" in detail and f"{gate['replaced']['pearson']:.3f}" in detail
    assert "caught 90% / 88%" in detail
