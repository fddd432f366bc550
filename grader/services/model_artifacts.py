"""Model artifacts in Django's storage: saved file by file with a sha256, fetched by id and verified before use."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
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
    """Copy a trained model directory into the store under ``name``; returns its sha256.

    On a filesystem store the copy is written under a hidden temporary name beside the target and renamed into
    place: a process killed mid-copy (it takes seconds for ~90 MB) leaves no half-written ``name`` that looks like
    a model, only a temporary directory that model_artifacts_remove_orphans clears. An object store has no
    rename; its files are written under ``name`` one by one, and an orphan is cleared the same way.
    """
    storage = model_storage()
    if storage.exists(name) and list(_walk(storage, name)):
        raise FileExistsError(f"artifact {name!r} already exists in the model store")
    sha256 = directory_sha256(local_dir)
    root = _local_root(storage, name)
    if root is not None:
        _copy_and_rename(local_dir=local_dir, target=root)
        return sha256
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        target = f"{name}/{path.relative_to(local_dir).as_posix()}"
        with open(path, "rb") as handle:
            saved = storage.save(target, File(handle))
        if saved != target:
            raise FileExistsError(f"the model store renamed {target!r} to {saved!r}")
    return sha256


def _copy_and_rename(*, local_dir: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not mkdtemp: its 0700 would stay on the renamed directory, unreadable to workers running as another user.
    partial = target.parent / f"{PARTIAL_PREFIX}{target.name}-{uuid.uuid4().hex[:12]}"
    try:
        shutil.copytree(local_dir, partial)
        partial.rename(target)  # atomic on one filesystem; fails if the target appeared meanwhile
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


# What training writes into the store: ``v<run id>``, and its copy in progress. Nothing else there is touched.
PARTIAL_PREFIX = ".partial-"
_TRAINED_NAME = re.compile(rf"^(?:{re.escape(PARTIAL_PREFIX)})?v\d+(?:-[0-9a-f]+)?$")


# Far longer than storing an artifact and recording its version takes (seconds).
ORPHAN_GRACE = timedelta(hours=1)


def model_artifacts_remove_orphans(*, grace: timedelta = ORPHAN_GRACE) -> list[str]:
    """Remove artifacts no model version records, left by a retrain killed while storing them.

    Only names training writes, and only when their newest file is older than ``grace``: an artifact is stored a
    moment before its version row is committed, and a run of another deployment sharing the store may be there
    now. Returns the names removed.
    """
    storage = model_storage()
    try:
        names, _ = storage.listdir("")
    except FileNotFoundError:
        return []
    recorded = set(ModelVersion.objects.values_list("artifact_path", flat=True))
    cutoff = time.time() - grace.total_seconds()
    removed = []
    for name in names:
        if name in recorded or not _TRAINED_NAME.match(name):
            continue
        newest = _newest_modification(storage, name)
        if newest is None or newest > cutoff:
            continue
        model_artifact_delete(name=name)
        removed.append(name)
        logger.warning("removed model artifact %s: no model version records it", name)
    return removed


def _newest_modification(storage: Storage, name: str) -> float | None:
    root = _local_root(storage, name)
    if root is not None:
        return max((path.stat().st_mtime for path in [root, *root.rglob("*")]), default=None)
    try:
        return max((storage.get_modified_time(file).timestamp() for file in _walk(storage, name)), default=None)
    except NotImplementedError:  # a store that cannot tell: keep the files
        return None


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
