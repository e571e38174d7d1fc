"""Crash points: the fixed and the seeded random schedule, and the kill log that replays them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from image2ad.faults import parse

HITS = "from image2ad.faults import crash_point\nfor _ in range(1000): crash_point('X')\n"


def _run(spec: str, log: Path) -> int:
    env = {**os.environ, "IMAGE2AD_FAULT": spec, "IMAGE2AD_FAULT_LOG": str(log)}
    return subprocess.run([sys.executable, "-c", HITS], env=env, check=False).returncode


def test_a_seeded_schedule_kills_at_a_logged_hit_that_replays(tmp_path: Path) -> None:
    log = tmp_path / "kills.jsonl"
    assert _run("random:s1:0.05:X,Y", log) == -signal.SIGKILL
    assert _run("random:s1:0.05:X,Y", log) == -signal.SIGKILL
    first, again = (json.loads(line) for line in log.read_text().splitlines())
    assert first["point"] == "X" and first["seed"] == "s1" and first["hit"] == again["hit"]
    assert _run(f"X:{first['hit']}", log) == -signal.SIGKILL
    assert json.loads(log.read_text().splitlines()[-1])["hit"] == first["hit"]


def test_points_outside_the_schedule_never_fire(tmp_path: Path) -> None:
    assert _run("random:s1:1.0:Y", tmp_path / "kills.jsonl") == 0
    assert _run("X:1001", tmp_path / "kills.jsonl") == 0
    assert not (tmp_path / "kills.jsonl").exists()


def test_the_random_draws_depend_on_seed_point_and_hit_only() -> None:
    one, other = parse("random:a:0.5"), parse("random:b:0.5")
    assert one is not None and other is not None and one.points is None
    draws = [one.fires("P4", n) for n in range(1, 200)]
    assert draws == [one.fires("P4", n) for n in range(1, 200)]
    assert draws != [other.fires("P4", n) for n in range(1, 200)]
    assert 50 < sum(draws) < 150
