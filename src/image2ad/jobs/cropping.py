"""Cut a stored result to its placement's exact ratio, in place under the same key."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

from image2ad.faults import crash_point
from image2ad.placements import Placement
from image2ad.placements.crop import crop_file
from image2ad.storage.base import Storage, local_copy

CHUNK = 256 * 1024


@dataclass(frozen=True)
class CroppedResult:
    """What is stored under the key now."""

    size: int
    sha256: str
    width: int
    height: int


async def crop_stored(
    storage: Storage, key: str, placement: Placement, result_type: str
) -> CroppedResult:
    """Crop the object at `key` to `placement` and write it back under `key`.

    Safe to run again: an object that already has the ratio (the provider made it so, or an
    earlier run of this step cropped it before a crash) is left as it is and only described.
    """
    suffix = os.path.splitext(key)[1]
    handle, target = tempfile.mkstemp(prefix="image2ad-crop-", suffix=suffix)
    os.close(handle)
    try:
        async with local_copy(storage, key) as source:
            cropped = await asyncio.to_thread(crop_file, source, target, placement, result_type)
            if not cropped.written:
                # Nothing tells this object apart from one an earlier run already cropped, so
                # its hash is taken from what is there.
                size, sha256 = await asyncio.to_thread(_hash_file, source)
                return CroppedResult(size, sha256, cropped.width, cropped.height)
        digest = hashlib.sha256()

        async def hashed() -> AsyncIterator[bytes]:
            file = await asyncio.to_thread(open, target, "rb")
            try:
                while chunk := await asyncio.to_thread(file.read, CHUNK):
                    digest.update(chunk)
                    yield chunk
            finally:
                file.close()

        stored = await storage.write(key, hashed())
        crash_point("C1")
        return CroppedResult(stored.size, digest.hexdigest(), cropped.width, cropped.height)
    finally:
        os.unlink(target)


def _hash_file(path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
