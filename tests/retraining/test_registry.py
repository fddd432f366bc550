"""Model registry: artifacts through the storage API with their sha256, regrading, and the admin's actions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from grader import dispatch
from grader.models import ModelVersion, Submission, TrainingRun
from grader.services.model_artifacts import ArtifactIntegrityError, model_artifact_store, model_version_local_path
from grader.services.model_versions import model_version_activate
from grader.services.regrading import model_version_dry_run, submissions_regrade
from grader.services.submissions import correction_create, submission_create, submission_grade
from training.finetune import directory_sha256

pytestmark = pytest.mark.django_db


@pytest.fixture
def object_store(settings, model_root: Path):
    settings.GRADER_MODEL_STORAGE_BACKEND = "tests.retraining.storages.NoLocalPathStorage"
    settings.GRADER_MODEL_STORAGE_OPTIONS = {"location": str(model_root)}
    return settings


def _tiny_model_dir(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "tiny"
    (directory / "sub").mkdir(parents=True)
    (directory / "config.json").write_text(text)
    (directory / "sub" / "weights.bin").write_bytes(b"\x00\x01" * 100)
    return directory


def test_a_stored_version_is_fetched_by_id_from_an_object_store_and_verified(object_store, tmp_path):
    local = _tiny_model_dir(tmp_path, '{"a": 1}')
    sha256 = model_artifact_store(local_dir=local, name="tiny-1")
    version = ModelVersion.objects.create(name="tiny-1", artifact_path="tiny-1", sha256=sha256)

    fetched = model_version_local_path(version=version)

    assert fetched.is_relative_to(Path(object_store.GRADER_MODEL_CACHE_DIR))
    assert (fetched / "sub" / "weights.bin").read_bytes() == b"\x00\x01" * 100
    assert directory_sha256(fetched) == sha256


def test_a_version_whose_files_do_not_match_its_sha256_is_refused(object_store, tmp_path, model_root: Path):
    sha256 = model_artifact_store(local_dir=_tiny_model_dir(tmp_path, '{"a": 2}'), name="tiny-2")
    (model_root / "tiny-2" / "config.json").write_text('{"a": 3}')  # altered after it was recorded
    version = ModelVersion.objects.create(name="tiny-2", artifact_path="tiny-2", sha256=sha256)

    with pytest.raises(ArtifactIntegrityError, match="tiny-2"):
        model_version_local_path(version=version)
    assert not list(Path(object_store.GRADER_MODEL_CACHE_DIR).glob(f"{version.pk}-*"))


def test_the_filesystem_store_is_used_in_place_and_verified(base_model_version, model_root: Path):
    assert model_version_local_path(version=base_model_version) == model_root / "base"
    wrong = ModelVersion.objects.create(name="wrong", artifact_path="base", sha256="0" * 64)
    with pytest.raises(ArtifactIntegrityError):
        model_version_local_path(version=wrong)


@pytest.fixture
def graded_and_corrected(gradient_descent_question, base_model_version):
    submissions = []
    for number, answer in enumerate(["It lowers the loss step by step.", "A kind of tree.", "Following the slope."]):
        submission, _ = submission_create(question=gradient_descent_question, student_ref=f"s{number}", answer=answer)
        submission_grade(submission_id=submission.pk)
        submissions.append(submission)
    return submissions


def test_regrading_uses_the_active_version_and_never_overwrites_a_teachers_grade(
    graded_and_corrected, base_model_version
):
    # A second version with the same files: it grades exactly like the first, so only its id tells it apart.
    twin = ModelVersion.objects.create(
        name="twin", parent=base_model_version, artifact_path="base", sha256=base_model_version.sha256
    )
    assert model_version_dry_run(version=twin) | {"at": None} == {
        "version": "twin", "at": None, "total_uncorrected": 3, "sampled": 3, "changed": 0, "raised": 0,
        "lowered": 0, "mean_abs_change": 0.0, "max_abs_change": 0.0, "changes": {"0.00": 3},
        "crossing_pass_mark": 0, "passing_to_failing": 0, "examples": [],
    }  # fmt: skip
    # A stored grade the version would not give: the dry run shows it as its largest change, across the pass mark.
    moved = graded_and_corrected[2]
    now = Submission.objects.get(pk=moved.pk).points
    max_points = moved.question.max_points
    Submission.objects.filter(pk=moved.pk).update(points=Decimal(0) if now >= max_points / 2 else max_points)
    report = model_version_dry_run(version=twin)
    assert (report["changed"], report["crossing_pass_mark"]) == (1, 1)
    assert report["passing_to_failing"] == (0 if now >= max_points / 2 else 1)
    assert report["examples"] == [{
        "submission": moved.pk, "course": moved.question.course.code, "question": moved.question.key,
        "max_points": float(max_points), "points": float(0 if now >= max_points / 2 else max_points),
        "new_points": float(now),
    }]  # fmt: skip
    Submission.objects.filter(pk=moved.pk).update(points=now)
    # Corrected only now: a correction also moves the question's calibration at once (grader.scoring.context), so
    # a dry run after it would report those changes too, not just the version's.
    teacher = get_user_model().objects.create_user("t", is_staff=True)
    correction_create(submission=graded_and_corrected[1], teacher=teacher, points=Decimal("4"))
    model_version_activate(version=twin)
    question_id = graded_and_corrected[0].question_id

    assert submissions_regrade(question_ids=[question_id]) == 2
    assert submissions_regrade(question_ids=[question_id]) == 0  # idempotent

    rows = {s.pk: s for s in Submission.objects.filter(pk__in=[s.pk for s in graded_and_corrected])}
    corrected = rows[graded_and_corrected[1].pk]
    assert corrected.model_version == base_model_version and corrected.corrected_points == Decimal("4")
    assert [rows[s.pk].model_version for s in (graded_and_corrected[0], graded_and_corrected[2])] == [twin, twin]


@pytest.fixture
def operator_client(client):
    user = get_user_model().objects.create_superuser("operator", password="x")
    client.force_login(user)
    return client


def test_retrain_now_in_the_admin_queues_the_retrain_task(
    operator_client, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(dispatch, "_publish", lambda task, **kwargs: queued.append((task, kwargs["kwargs"])))

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(reverse("admin:grader_trainingrun_retrain"))

    assert response.status_code == 302
    assert queued == [("grader.tasks.retrain_model", {"trigger": "admin:operator", "force": True})]
    assert operator_client.get(reverse("admin:grader_trainingrun_retrain")).status_code == 403


def test_an_operator_rolls_back_to_an_earlier_version_from_the_admin(operator_client, base_model_version):
    newer = ModelVersion.objects.create(
        name="newer", parent=base_model_version, artifact_path="base", sha256=base_model_version.sha256
    )
    model_version_activate(version=newer)
    TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, progress={"step": 3, "max_steps": 10, "loss": 0.2})

    response = operator_client.post(
        reverse("admin:grader_modelversion_changelist"),
        {"action": "activate", "_selected_action": [base_model_version.pk]},
    )

    assert response.status_code == 302
    assert ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE) == base_model_version
    assert b"step 3/10, loss 0.2000" in operator_client.get(reverse("admin:grader_trainingrun_changelist")).content


def test_a_regrade_decides_the_review_status_again_as_grading_does(graded_and_corrected, base_model_version):
    # The previous version sent this answer to review; the new one (here: the same files) is sure of it.
    released = Submission.objects.get(pk=graded_and_corrected[0].pk)
    assert released.status == Submission.Status.GRADED and released.confidence is not None
    Submission.objects.filter(pk=released.pk).update(
        status=Submission.Status.NEEDS_REVIEW, confidence=0.1, review_reasons="low_confidence"
    )
    twin = ModelVersion.objects.create(
        name="twin", parent=base_model_version, artifact_path="base", sha256=base_model_version.sha256
    )
    model_version_activate(version=twin)

    assert submissions_regrade(question_ids=[released.question_id]) == 3

    regraded = Submission.objects.get(pk=released.pk)
    assert regraded.model_version == twin
    assert (regraded.status, regraded.review_reasons) == (Submission.Status.GRADED, "")
    assert regraded.confidence == pytest.approx(released.confidence)
    assert regraded.final_points == released.points  # released again: the LMS sees a grade
