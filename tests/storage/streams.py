"""Chunk sources for writes and a reader that gathers an object's bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from image2ad.storage.base import Storage


class ChunksFailed(Exception):
    pass


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def failing_after(data: bytes) -> AsyncIterator[bytes]:
    """Yields `data`, then raises: a download that breaks midway."""
    async for chunk in chunks_of(data):
        yield chunk
    raise ChunksFailed("the source broke midway")


async def read_all(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key, start, end)])
