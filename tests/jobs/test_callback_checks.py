"""CallbackChecks: one running check per job, and a bound on how many wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from image2ad.jobs.callbacks import CallbackChecks


async def test_one_check_per_job_and_a_bound_on_waiting_checks() -> None:
    checks = CallbackChecks()
    checks.MAX_WAITING = 3
    release = asyncio.Event()
    started: list[str] = []

    def check(job_id: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def run() -> None:
            started.append(job_id)
            await release.wait()

        return run

    assert checks.start("a", check("a")) and checks.start("a", check("a"))
    assert checks.start("b", check("b")) and checks.start("c", check("c"))
    assert not checks.start("d", check("d")), "full: the caller hands the job to the polls"
    await asyncio.sleep(0)
    assert sorted(started) == ["a", "b", "c"] and len(checks) == 3
    assert "a" in checks and "d" not in checks
    release.set()
    await asyncio.sleep(0.01)
    assert len(checks) == 0 and "a" not in checks
    assert checks.start("a", check("a")), "a finished check makes room for the next callback"
    await checks.aclose()
