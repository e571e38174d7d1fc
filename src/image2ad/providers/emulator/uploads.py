"""In-memory file store behind the upload endpoints (kie-api.md §6)."""

from __future__ import annotations

import mimetypes
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024


class UploadRejected(ValueError):
    """The upload breaks the contract; maps to the upload API's `code` 400."""


@dataclass(frozen=True)
class StoredFile:
    path: str
    """Path below the file host root, e.g. `kieai/123456/images/a.png` (Kie's `filePath`)."""
    name: str
    data: bytes
    mime_type: str
    uploaded_at_ms: int


def guess_mime(file_name: str, fallback: str | None = None) -> str:
    guessed, _ = mimetypes.guess_type(file_name)
    return guessed or fallback or "application/octet-stream"


def clean_upload_path(upload_path: object) -> str:
    if not isinstance(upload_path, str) or not upload_path.strip("/ "):
        raise UploadRejected("Missing required parameter: uploadPath")
    parts = [p for p in upload_path.strip().strip("/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise UploadRejected("uploadPath must not contain '.' or '..' segments")
    return "/".join(parts)


def clean_file_name(file_name: object, mime_type: str | None) -> str:
    """The caller's name without directories, or Kie's `<epochMillis>-<random>.<ext>` form."""
    if isinstance(file_name, str) and file_name.strip():
        name = file_name.strip().replace("\\", "/").rsplit("/", 1)[-1]
        if name not in ("", ".", ".."):
            return name
    ext = (mimetypes.guess_extension(mime_type) if mime_type else None) or ".bin"
    return f"{int(time.time() * 1000)}-{secrets.token_hex(5)}{ext}"


class UploadStore:
    """Bounded in-memory store; the oldest files are evicted first, as Kie's expire."""

    def __init__(self, max_total_bytes: int = MAX_TOTAL_BYTES) -> None:
        self.max_total_bytes = max_total_bytes
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def put(self, path: str, name: str, data: bytes, mime_type: str) -> StoredFile:
        if len(data) > MAX_FILE_BYTES:
            raise UploadRejected(f"File exceeds the {MAX_FILE_BYTES // (1024 * 1024)} MB limit")
        stored = StoredFile(path, name, data, mime_type, int(time.time() * 1000))
        with self._lock:
            # Re-using a name overwrites the old file, as on Kie.
            old = self._files.pop(path, None)
            if old is not None:
                self._total -= len(old.data)
            self._files[path] = stored
            self._total += len(data)
            while self._total > self.max_total_bytes and len(self._files) > 1:
                _, evicted = self._files.popitem(last=False)
                self._total -= len(evicted.data)
        return stored

    def get(self, path: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(path)

    def __len__(self) -> int:
        return len(self._files)
