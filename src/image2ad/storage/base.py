"""Where results and uploads live. Keys are made by the server, never taken from users."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class StorageError(Exception):
    """The store could not complete an operation."""


class ObjectNotFound(StorageError):
    pass


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


class Storage(Protocol):
    async def write(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
        """Stream chunks to `key`; the object appears whole or not at all."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream the object's bytes [start, end] (inclusive end, like HTTP Range)."""
        ...

    async def size(self, key: str) -> int: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def check(self) -> None:
        """Raise StorageError when the store is unreachable (readiness probe)."""
        ...

    def local_path(self, key: str) -> str | None:
        """A filesystem path when the store is a local folder (lets the server use sendfile)."""
        ...


@runtime_checkable
class Presigning(Protocol):
    """A store that can let clients fetch an object from it directly, for a short while."""

    async def presigned_url(self, key: str) -> str | None:
        """A short-lived GET URL for `key`, or None when this store is set to stream instead."""
        ...


async def presigned_url(storage: Storage, key: str) -> str | None:
    """A direct, short-lived URL for `key` when the store offers one (remote stores), else None."""
    if isinstance(storage, Presigning):
        return await storage.presigned_url(key)
    return None


@asynccontextmanager
async def local_copy(storage: Storage, key: str) -> AsyncIterator[str]:
    """A filesystem path with the object's bytes (the object itself when the store is local)."""
    path = storage.local_path(key)
    if path is not None:
        yield path
        return
    handle, temp = tempfile.mkstemp(suffix=os.path.splitext(key)[1])
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in storage.read(key):
                out.write(chunk)
        yield temp
    finally:
        os.unlink(temp)
