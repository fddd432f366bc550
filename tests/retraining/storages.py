"""A filesystem storage that hides its local paths, so the tests take the object-store code path."""

from django.core.files.storage import FileSystemStorage


class NoLocalPathStorage(FileSystemStorage):
    def path(self, name):
        raise NotImplementedError("an object store has no local path")
