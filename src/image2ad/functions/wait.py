"""Holding a request until its job ends, without holding a connection or a thread meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from image2ad.jobs import repository, service
from image2ad.jobs.schemas import JobOut
from image2ad.runtime import Runtime

FIRST_POLL_S = 0.25
# A job changes a handful of times over seconds to minutes: reads widen to this interval, so
# many held requests cost the database little.
MAX_POLL_S = 2.0


def _load(rt: Runtime, user_id: str, job_id: str) -> JobOut | None:
    with rt.db.session(read_only=True) as session:
        job = repository.get_owned(session, job_id, user_id)
        return None if job is None else service.to_out(job, rt.signer)


async def until_ended(
    rt: Runtime,
    user_id: str,
    job: JobOut,
    timeout_s: float,
    gone: Callable[[], Awaitable[bool]],
) -> JobOut:
    """The job once terminal, or its last snapshot when `timeout_s` passes or the client is
    `gone` (the job runs on either way: only this wait stops)."""
    until = time.monotonic() + timeout_s
    pause = FIRST_POLL_S
    while not job.status.is_terminal:
        left = until - time.monotonic()
        if left <= 0 or await gone():
            return job
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 1.5, MAX_POLL_S)
        latest = await asyncio.to_thread(_load, rt, user_id, job.id)
        if latest is None:
            return job
        job = latest
    return job
