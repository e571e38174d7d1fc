"""A write killed midway leaves a `.part`; the store removes it once its writer is gone."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from image2ad.storage import local
from image2ad.storage.local import LocalStorage
from tests.storage.streams import chunks_of


def _dead_owner() -> str:
    child = subprocess.Popen(["sleep", "30"])
    started = local._started(child.pid)
    child.kill()
    child.wait()
    return f"{local._host()}-{child.pid}-{started}"


def _part(folder: Path, name: str, owner: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{name}.{owner}.0123456789ab.part"
    part.write_bytes(b"half")
    return part


async def test_a_rewrite_of_the_key_removes_a_dead_writers_part(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    dead = _part(tmp_path / "results", "a.png", _dead_owner())
    live = _part(tmp_path / "results", "a.png", local.owner_token())
    await store.write("results/a.png", chunks_of(b"whole"))
    assert (tmp_path / "results" / "a.png").read_bytes() == b"whole"
    assert not dead.exists() and live.exists()


def test_the_sweep_keeps_live_and_recent_foreign_parts(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    dead = _part(tmp_path / "uploads" / "u1", "b.jpg", _dead_owner())
    live = _part(tmp_path / "results", "c.png", local.owner_token())
    recent = _part(tmp_path / "results", "d.png", "otherhst-12-345")
    old = _part(tmp_path / "results", "e.png", "otherhst-12-345")
    stale = time.time() - local.STALE_AFTER_S - 60
    os.utime(old, (stale, stale))
    assert store.remove_abandoned_parts() == 2
    assert [dead.exists(), live.exists(), recent.exists(), old.exists()] == [
        False,
        True,
        True,
        False,
    ]
