"""crop_stored on a real local store: cropped in place, described the same when run again."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from image2ad.jobs import cropping
from image2ad.jobs.cropping import crop_stored
from image2ad.placements import PLACEMENTS
from image2ad.placements.crop import CropFailed
from image2ad.storage.local import LocalStorage

KEY = "results/u1/text-to-image/job-1.png"


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_a_second_run_finds_the_crop_and_describes_it_the_same(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    original = io.BytesIO()
    Image.effect_noise((1024, 1024), 50).save(original, "PNG")
    await storage.write(KEY, one(original.getvalue()))

    first = await crop_stored(storage, KEY, PLACEMENTS["story"], "image")
    stored = (storage.root / KEY).read_bytes()
    assert (first.width, first.height) == (576, 1024)
    assert first.size == len(stored) and first.sha256 == hashlib.sha256(stored).hexdigest()

    second = await crop_stored(storage, KEY, PLACEMENTS["story"], "image")
    assert second == first
    assert (storage.root / KEY).read_bytes() == stored
    assert sorted(p.name for p in (storage.root / KEY).parent.iterdir()) == ["job-1.png"]


async def test_an_unreadable_object_is_left_for_the_workflow_to_fail(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    await storage.write(KEY, one(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100))
    with pytest.raises(CropFailed):
        await crop_stored(storage, KEY, PLACEMENTS["feed"], "image")
    assert (storage.root / KEY).read_bytes().startswith(b"\x89PNG")


def test_scratch_files_of_killed_crops_are_removed_by_the_next_crop() -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    mine = cropping.scratch_file(KEY)
    stem = mine.rsplit("-", 1)[0]
    killed, live = Path(f"{stem}-{ended.pid}.png"), Path(f"{stem}-{os.getppid()}.png")
    for path in (killed, live):
        path.write_bytes(b"half a crop")
    try:
        assert cropping.scratch_file(KEY) == mine
        assert not killed.exists() and live.exists()
    finally:
        for path in (killed, live):
            path.unlink(missing_ok=True)
