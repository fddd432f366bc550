"""Model artifacts in Django's storage: saved file by file with a sha256, fetched by id and verified before use."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

from grader.models import ModelVersion
from training.finetune import directory_sha256

logger = logging.getLogger(__name__)


class ArtifactIntegrityError(RuntimeError):
    """The stored files of a version do not hash to the sha256 recorded when it was trained."""


def model_storage() -> Storage:
    """Built on each call so a changed GRADER_MODEL_DIR (tests, a reconfigured worker) is honoured."""
    options = dict(settings.GRADER_MODEL_STORAGE_OPTIONS)
    if settings.GRADER_MODEL_STORAGE_BACKEND == "django.core.files.storage.FileSystemStorage":
        options.setdefault("location", str(settings.GRADER_MODEL_DIR))
    return storages.create_storage({"BACKEND": settings.GRADER_MODEL_STORAGE_BACKEND, "OPTIONS": options})


def _local_root(storage: Storage, name: str) -> Path | None:
    try:
        return Path(storage.path(name))
    except NotImplementedError:  # an object store has no local path
        return None


def _walk(storage: Storage, prefix: str) -> Iterator[str]:
    directories, files = storage.listdir(prefix)
    for file_name in files:
        yield f"{prefix}/{file_name}"
    for directory in directories:
        yield from _walk(storage, f"{prefix}/{directory}")


def model_artifact_store(*, local_dir: Path, name: str) -> str:
    """Copy a trained model directory into the store under ``name``; returns its sha256."""
    storage = model_storage()
    if storage.exists(name) and list(_walk(storage, name)):
        raise FileExistsError(f"artifact {name!r} already exists in the model store")
    sha256 = directory_sha256(local_dir)
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        target = f"{name}/{path.relative_to(local_dir).as_posix()}"
        with open(path, "rb") as handle:
            saved = storage.save(target, File(handle))
        if saved != target:
            raise FileExistsError(f"the model store renamed {target!r} to {saved!r}")
    return sha256


def model_artifact_delete(*, name: str) -> None:
    """Remove a half-written artifact (a crash between training and recording the version)."""
    storage = model_storage()
    root = _local_root(storage, name)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
        return
    for file_name in list(_walk(storage, name)):
        storage.delete(file_name)


_verified_lock = threading.Lock()
_verified: dict[tuple[str, str], Path] = {}


def model_version_local_path(*, version: ModelVersion) -> Path:
    """A local directory holding exactly the bytes recorded for ``version``, ready for load_encoder.

    A filesystem store is used in place; anything else is copied into GRADER_MODEL_CACHE_DIR first. Either
    way the files are hashed once per process and version, and a mismatch raises ArtifactIntegrityError.
    """
    storage = model_storage()
    root = _local_root(storage, version.artifact_path)
    key = (str(root) if root is not None else f"{settings.GRADER_MODEL_CACHE_DIR}:{version.pk}", version.sha256)
    with _verified_lock:
        path = _verified.get(key)
        if path is not None:
            return path
        path = root if root is not None else _fetch_to_cache(storage=storage, version=version)
        actual = directory_sha256(path)
        if actual != version.sha256:
            raise ArtifactIntegrityError(
                f"model version {version.name}: files hash to {actual}, recorded {version.sha256}"
            )
        _verified[key] = path
        return path


def _fetch_to_cache(*, storage: Storage, version: ModelVersion) -> Path:
    cache_root = Path(settings.GRADER_MODEL_CACHE_DIR)
    target = cache_root / f"{version.pk}-{version.sha256[:16]}"
    if target.is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    # Download next to the target and rename: another process never sees a half-copied model.
    scratch = Path(tempfile.mkdtemp(prefix=f".fetch-{version.pk}-", dir=cache_root))
    try:
        prefix = version.artifact_path.rstrip("/")
        for name in _walk(storage, prefix):
            destination = scratch / name[len(prefix) + 1 :]
            destination.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(name, "rb") as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        if directory_sha256(scratch) != version.sha256:
            raise ArtifactIntegrityError(f"model version {version.name}: fetched files do not match its sha256")
        try:
            scratch.rename(target)
        except OSError:  # another process finished first
            shutil.rmtree(scratch, ignore_errors=True)
        logger.info("fetched model version %s into %s", version.name, target)
        return target
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
