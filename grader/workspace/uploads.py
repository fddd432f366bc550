"""Uploaded files are read up to a limit, never whole: the questions CSV is the only upload, and it is small."""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

# The largest questions CSV accepted (5,000 rows of typical length fit in well under this).
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# Room for the form's other fields and the multipart boundaries around the file.
_ENVELOPE_BYTES = 64 * 1024


def upload_refused(request) -> bool:
    """Whether a file of this request was cut off at MAX_UPLOAD_BYTES (and is missing from request.FILES)."""
    return getattr(request, "_grader_upload_refused", False)


class SizeLimitedUploadHandler(FileUploadHandler):
    """First of the upload handlers: stops the upload once a file passes MAX_UPLOAD_BYTES.

    Django otherwise streams a file of any size to memory or a temporary file before a view can look at its
    size. Here a request that announces a larger body is stopped before the file's first byte, and one that
    does not is stopped at the first chunk over the limit; the rest of the body is not read.
    """

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self._announced = content_length or 0
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self._received = 0
        if self._announced > MAX_UPLOAD_BYTES + _ENVELOPE_BYTES:
            self._refuse()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self._received += len(raw_data)
        if self._received > MAX_UPLOAD_BYTES:
            self._refuse()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) builds the file

    def _refuse(self) -> None:
        if self.request is not None:
            self.request._grader_upload_refused = True
        raise StopUpload(connection_reset=True)
