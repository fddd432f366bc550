"""A storage with no local paths, like an object store, backed by a directory: the tests' remote model store."""

from django.core.files.storage import FileSystemStorage, Storage


class NoLocalPathStorage(Storage):
    def __init__(self, location: str) -> None:
        self._files = FileSystemStorage(location=location)

    def _open(self, name, mode="rb"):
        return self._files._open(name, mode)

    def _save(self, name, content):
        return self._files._save(name, content)

    def exists(self, name):
        return self._files.exists(name)

    def listdir(self, path):
        return self._files.listdir(path)

    def delete(self, name):
        self._files.delete(name)

    def size(self, name):
        return self._files.size(name)
