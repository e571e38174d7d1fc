"""Cut a stored result to its placement's exact ratio, in place under the same key."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from image2ad.faults import crash_point
from image2ad.placements import Placement
from image2ad.placements.crop import crop_file
from image2ad.storage.base import Storage, local_copy

CHUNK = 256 * 1024
# Each crop decodes a whole image (up to 40 MP) or runs an encoder: a few at a time, on threads
# of their own, so memory stays bounded and the shared threads stay free for the database.
CROP_SLOTS = 2
_croppers = ThreadPoolExecutor(CROP_SLOTS, thread_name_prefix="result-crop")


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
    target = scratch_file(key)
    try:
        async with local_copy(storage, key) as source:
            cropped = await asyncio.get_running_loop().run_in_executor(
                _croppers, crop_file, source, target, placement, result_type
            )
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
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)


def scratch_file(key: str) -> str:
    """This process's scratch file for cropping `key`. Those of processes that are gone (killed
    mid-crop) are removed first: the run after a crash cleans up after the run it replaces."""
    stem = os.path.join(
        tempfile.gettempdir(), "image2ad-crop-" + hashlib.sha256(key.encode()).hexdigest()[:24]
    )
    for left in glob.glob(glob.escape(stem) + "-*"):
        pid = left[len(stem) + 1 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(left)
    return f"{stem}-{os.getpid()}{os.path.splitext(key)[1]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _hash_file(path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
