"""R1: kill -9 real image2ad processes many times at every crash point, then check every promise.

A seeded random schedule (image2ad.faults) kills the server at P1-P6, F, D1, V1, U1, C1 (and
S3 on S3 storage) while a mix of image and video jobs, some made for a placement, is in flight;
each kill is followed by a restart. Per point the run counts kills, jobs in flight and
workflows recovered; every invariant is asserted. The harness is tests/chaos/harness.py;
bench/chaos.py runs it for longer.
Set IMAGE2AD_CHAOS_REPORT=path.jsonl to collect the figures for docs/reliability.md,
IMAGE2AD_CHAOS_SEED to replay a run, IMAGE2AD_CHAOS_KILLS for a shorter or longer one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosConfig, ChaosResult, harness, write_report

SEED = os.environ.get("IMAGE2AD_CHAOS_SEED", "ci")
KILLS = int(os.environ.get("IMAGE2AD_CHAOS_KILLS", "100"))

RUNS = [
    pytest.param(ChaosConfig("sqlite", kills=KILLS, seed=SEED), id="sqlite-local"),
    pytest.param(
        ChaosConfig("postgres", kills=KILLS, seed=SEED),
        id="postgres-local",
        marks=pytest.mark.postgres,
    ),
    pytest.param(
        ChaosConfig("postgres", storage="s3", kills=KILLS // 5, seed=SEED),
        id="postgres-s3",
        marks=pytest.mark.postgres,
    ),
    pytest.param(
        ChaosConfig("postgres", shape="scale-out", kills=KILLS // 5, seed=SEED),
        id="postgres-scale-out",
        marks=pytest.mark.postgres,
    ),
]


@pytest.mark.parametrize("config", RUNS)
def test_random_kills_lose_nothing(config: ChaosConfig, tmp_path: Path) -> None:
    with harness(config, tmp_path) as chaos:
        result = chaos.run()
    write_report(result, os.environ.get("IMAGE2AD_CHAOS_REPORT"))
    print(describe(result))
    assert result.unexplained_exits == [], result.unexplained_exits
    assert result.kills >= config.kills, describe(result)
    if config.kills >= 100:
        hit = {point for point, stats in result.points.items() if stats.kills}
        assert hit == set(config.points), f"points never killed: {describe(result)}"
    assert {name: found[:5] for name, found in result.violations.items() if found} == {}


def describe(result: ChaosResult) -> str:
    per_point = ", ".join(
        f"{point} {s.kills} kills/{s.jobs_in_flight} in flight/{s.workflows_recovered} recovered"
        for point, s in result.points.items()
    )
    return (
        f"{result.config['backend']}/{result.config['storage']}/{result.config['shape']} "
        f"seed {result.config['seed']}: {result.kills} kills, {result.starts} starts, "
        f"{result.jobs} jobs ({result.completed} completed, {result.failed} failed), "
        f"{result.orphan_tasks} orphan tasks, {result.seconds} s; {per_point}"
    )
