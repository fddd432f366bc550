"""The model-versions admin shows the gate's grade-level comparison, not only its verdict."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from grader.models import ModelVersion
from grader.services.model_versions import model_version_comparison
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
    assert "Activated: on 60 answers teachers corrected and it never saw" in listing
    assert f"{gate['candidate']['pearson']:.3f}" in detail and f"{gate['replaced']['pearson']:.3f}" in detail
    assert "caught 90% / 88%" in detail


DRY_RUN = {
    "sampled": 40, "total_uncorrected": 40, "changed": 12, "raised": 7, "lowered": 5, "mean_abs_change": 0.2,
    "max_abs_change": 1.5, "crossing_pass_mark": 3, "passing_to_failing": 1,
    "examples": [{"submission": 4321, "course": "ML", "question": "gradient-descent", "max_points": 5.0,
                  "points": 2.0, "new_points": 3.5}],
}  # fmt: skip


def test_a_rejected_candidate_is_shown_beside_the_version_it_would_replace_with_its_dry_run(client, base_model_version):
    """Metrics with each version's interval, corrections learned from, the one-sentence reason, and the dry run's
    diff: what the page shows is stored on the version when the gate decides."""
    base_model_version.metrics = {"corrections_trained_on": 35}
    base_model_version.save()
    rng = np.random.default_rng(6)
    human = rng.integers(0, 6, 24).astype(float)
    replaced = np.clip(human + rng.normal(0, 1, 24), 0, 5)
    candidate = np.clip(human + rng.normal(0, 1, 24), 0, 5)
    gate = gate_verdict(grades=HeldOutGrades(human, [5.0] * 24, candidate, replaced), rule=GateRule())
    assert gate["promote"] is False
    version = ModelVersion.objects.create(
        name="v8", parent=base_model_version, artifact_path="v8", sha256="0" * 64, status="rejected",
        metrics={"corrections_trained_on": 70},
    )  # fmt: skip
    comparison = model_version_comparison(version=version, decision=gate, dry_run=DRY_RUN)
    version.evaluation = {"gate": gate, "comparison": comparison}
    version.save()

    assert comparison["candidate"]["corrections_learned_from"] == 70
    assert comparison["replaced"]["corrections_learned_from"] == 35
    assert comparison["held_out_answers"] == 24 and comparison["activated"] is False
    rmse = comparison["candidate"]["rmse"]
    assert rmse["value"] == gate["candidate"]["rmse"] and rmse["interval"][0] < rmse["value"] < rmse["interval"][1]
    assert comparison["replaced"]["rmse"]["value"] == gate["replaced"]["rmse"]
    assert comparison["gain"]["rmse"]["low"] == gate["intervals"]["rmse"]["low"]

    client.force_login(get_user_model().objects.create_superuser("operator", password="x"))
    detail = client.get(reverse("admin:grader_modelversion_change", args=[version.pk])).content.decode()

    assert gate["reason"].startswith("Not activated: on 24 answers teachers corrected and it never saw")
    assert gate["reason"].replace("'", "&#x27;") in detail
    low, high = rmse["interval"]
    assert f"{rmse['value']:.3f} ({low:.3f} to {high:.3f})" in detail
    assert "<td>corrections learned from</td><td>70</td><td>35</td>" in detail
    assert "12 would change (7 up, 5 down), by 0.20 points on average (largest 1.50); 3 would cross the pass mark" in (
        detail
    )
    assert reverse("admin:grader_submission_change", args=[4321]) in detail
