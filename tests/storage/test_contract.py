"""The Storage contract, the same assertions against the local folder and S3 (moto)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from image2ad.storage.base import ObjectNotFound, Storage, StorageError, local_copy
from tests.storage.streams import ChunksFailed, chunks_of, failing_after, read_all

MIB = 1024 * 1024


async def test_write_read_size_exists_delete(storage: Storage) -> None:
    data = os.urandom(300_000)
    stored = await storage.write("results/u1/a.png", chunks_of(data))
    assert (stored.key, stored.size) == ("results/u1/a.png", len(data))
    assert await read_all(storage, "results/u1/a.png") == data
    assert await storage.size("results/u1/a.png") == len(data)
    assert await storage.exists("results/u1/a.png")

    await storage.delete("results/u1/a.png")
    assert not await storage.exists("results/u1/a.png")
    await storage.delete("results/u1/a.png")  # deleting twice is fine


async def test_range_reads_are_inclusive_like_http(storage: Storage) -> None:
    data = bytes(range(256)) * 40
    await storage.write("r.bin", chunks_of(data, 1000))
    assert await read_all(storage, "r.bin", 2, 5) == data[2:6]
    assert await read_all(storage, "r.bin", 0, 0) == data[:1]
    assert await read_all(storage, "r.bin", 9000) == data[9000:]
    assert await read_all(storage, "r.bin", 10_000, 20_000) == data[10_000:]


async def test_missing_objects(storage: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        await read_all(storage, "nope/missing.png")
    with pytest.raises(ObjectNotFound):
        await storage.size("nope/missing.png")
    assert not await storage.exists("nope/missing.png")


@pytest.mark.parametrize("size", [100_000, 12 * MIB], ids=["one-put", "multipart"])
async def test_a_failed_write_leaves_nothing(storage: Storage, size: int) -> None:
    with pytest.raises(ChunksFailed):
        await storage.write("results/broken.mp4", failing_after(os.urandom(size)))
    assert not await storage.exists("results/broken.mp4")


async def test_a_failed_overwrite_keeps_the_old_object(storage: Storage) -> None:
    await storage.write("k.bin", chunks_of(b"old"))
    with pytest.raises(ChunksFailed):
        await storage.write("k.bin", failing_after(os.urandom(7 * MIB)))
    assert await read_all(storage, "k.bin") == b"old"


async def test_overwrite_and_empty_objects(storage: Storage) -> None:
    await storage.write("k.bin", chunks_of(b"first version, longer"))
    await storage.write("k.bin", chunks_of(b"second"))
    assert await read_all(storage, "k.bin") == b"second"

    stored = await storage.write("empty.bin", chunks_of(b""))
    assert stored.size == 0 and await storage.size("empty.bin") == 0
    assert await read_all(storage, "empty.bin") == b""


async def test_a_multipart_sized_object_round_trips(storage: Storage) -> None:
    data = os.urandom(11 * MIB + 123)
    stored = await storage.write("big/video.mp4", chunks_of(data, 256 * 1024))
    assert stored.size == len(data) == await storage.size("big/video.mp4")
    assert await read_all(storage, "big/video.mp4") == data
    assert await read_all(storage, "big/video.mp4", 6 * MIB, 6 * MIB + 9) == data[6 * MIB :][:10]


@pytest.mark.parametrize("key", ["../escape", "a/../b", "/absolute", ""])
async def test_unsafe_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(StorageError):
        await storage.write(key, chunks_of(b"x"))


async def test_check_and_local_copy(storage: Storage) -> None:
    await storage.check()
    await storage.write("uploads/u/ref.webp", chunks_of(b"webp bytes"))
    async with local_copy(storage, "uploads/u/ref.webp") as path:
        assert path.endswith(".webp")
        assert await asyncio.to_thread(Path(path).read_bytes) == b"webp bytes"
