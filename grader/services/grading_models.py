"""Which model grades: a version's files fetched and loaded, and the active version for the workers."""

from __future__ import annotations

from grader.models import ModelVersion
from grader.scoring.model import GradingModel, load_model
from grader.selectors import model_version_active
from grader.services.model_artifacts import model_version_local_path


class NoActiveModelVersion(RuntimeError):
    """Grading cannot start before the first model version exists (``manage.py bootstrap_model``)."""


def model_for_version(*, version: ModelVersion, keep: bool = True) -> GradingModel:
    """``version`` loaded (its files fetched from the model store and checked against its sha256 first).

    ``keep=False`` for read-only callers (the admin's explanation, a candidate's dry run): the process's kept
    model, the one its grading uses, stays as it is.
    """
    return load_model(path=model_version_local_path(version=version), version_id=version.pk, keep=keep)


def model_warm_active() -> ModelVersion | None:
    """Load the active version's model into this process and run it once; None when there is no active version.

    A worker calls it as it starts, so the first answer it grades does not wait for the model to load (seconds on
    a busy machine) and for the runtime's first, slower call.
    """
    version = model_version_active()
    if version is None:
        return None
    model_for_version(version=version).encode(["warm-up"])
    return version


def model_for_active_version() -> tuple[ModelVersion, GradingModel]:
    """The active version and its model. One indexed query per call, so a promotion is seen at once."""
    version = model_version_active()
    if version is None:
        raise NoActiveModelVersion("no active model version; run `python manage.py bootstrap_model`")
    return version, model_for_version(version=version)
