"""A local folder store for the embedded shape.

A write goes to `.<name>.<owner>.<random>.part` and is renamed into place when whole. A process
killed mid-write leaves its `.part` behind: the next write of the same key removes it, and each
process sweeps the whole folder once, at its first write. A `.part` is removed only when its
owner (host, pid, process start time) is gone, or when nobody wrote to it for STALE_AFTER_S
(another host's file, which cannot be checked).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from functools import cache
from pathlib import Path, PurePosixPath

from image2ad.storage.base import ObjectNotFound, StorageError, StoredObject

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
STALE_AFTER_S = 3600.0
PART = ".part"


@cache
def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_token() -> str:
    return f"{_host()}-{os.getpid()}-{_started(os.getpid()) or 0}"


def is_abandoned(part: Path, now: float) -> bool:
    """A `.part` no live writer owns."""
    try:
        owner = part.name[: -len(PART)].rsplit(".", 2)[1]
        host, pid, started = owner.split("-")
        mtime = part.stat().st_mtime
    except (IndexError, ValueError, OSError):
        return False
    if host == _host() and started != "0" and Path("/proc/self").exists():
        return _started(int(pid)) != started
    return now - mtime > STALE_AFTER_S


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep = threading.Thread(target=self.remove_abandoned_parts, daemon=True)

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(p in ("..", ".", "") for p in parts):
            raise StorageError(f"invalid storage key {key!r}")
        path = (self.root / Path(*parts)).resolve()
        if not path.is_relative_to(self.root):
            raise StorageError(f"invalid storage key {key!r}")
        return path

    async def write(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        path = self._path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        if self._sweep.ident is None:
            self._sweep.start()
        await asyncio.to_thread(self._remove_abandoned, path.parent.glob(f".{path.name}.*{PART}"))
        temp = path.with_name(f".{path.name}.{owner_token()}.{uuid.uuid4().hex[:12]}{PART}")
        size = 0
        handle = await asyncio.to_thread(open, temp, "wb")
        try:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
                size += len(chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            temp.unlink(missing_ok=True)
            raise
        handle.close()
        await asyncio.to_thread(os.replace, temp, path)
        return StoredObject(key=key, size=size)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                want = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def size(self, key: str) -> int:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def check(self) -> None:
        if not await asyncio.to_thread(os.access, self.root, os.W_OK):
            raise StorageError(f"{self.root} is not writable")

    def local_path(self, key: str) -> str | None:
        return str(self._path(key))

    def remove_abandoned_parts(self) -> int:
        """Delete every `.part` under the root that no live writer owns; returns how many."""
        removed = self._remove_abandoned(self.root.rglob(f".*{PART}"))
        if removed:
            log.info("removed %d abandoned partial files", removed)
        return removed

    @staticmethod
    def _remove_abandoned(parts: Iterable[Path]) -> int:
        now = time.time()
        removed = 0
        for part in parts:
            if is_abandoned(part, now):
                part.unlink(missing_ok=True)
                removed += 1
        return removed
