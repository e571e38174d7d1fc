"""The outbox relay: starts a delivery workflow for every pending delivery that has none.

Deliveries are written in the transaction that ended the job, where no workflow can be
started; each sweep of a worker (jobs/checker.py) runs a pass here, beside the sweep. A crash
between that commit and the start (crash point W1) only delays the delivery to the next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from image2ad.faults import crash_point
from image2ad.models.base import utcnow
from image2ad.runtime import Runtime
from image2ad.webhooks import delivery, repository

log = logging.getLogger(__name__)

BATCH = 200
# A live workflow makes its attempt at next_attempt_at; one this late may have no workflow.
OVERDUE = timedelta(seconds=60)
RETENTION = timedelta(days=30)
RETENTION_EVERY_S = 3600.0


class Relay:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._task: asyncio.Task[None] | None = None
        self._last_retention = -1e9

    def poke(self) -> None:
        """Run a pass unless one is still running (a slow database must not delay the sweep)."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.get_running_loop().create_task(self._pass())

    async def _pass(self) -> None:
        try:
            await run_once(self.rt)
            await self._retention()
        except Exception:
            log.exception("webhook relay pass failed")

    async def _retention(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_retention < RETENTION_EVERY_S:
            return
        self._last_retention = loop_time
        await asyncio.to_thread(_purge, self.rt)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def run_once(rt: Runtime) -> int:
    """Start what is due; returns how many deliveries were looked at."""
    rows = await asyncio.to_thread(_due, rt)
    for delivery_id, attempt in rows:
        # The delivery is committed with its job's end, its workflow not yet started.
        crash_point("W1")
        await delivery.start(rt, delivery_id, attempt)
    return len(rows)


def _due(rt: Runtime) -> list[tuple[str, int]]:
    now = utcnow()
    with rt.db.session(read_only=True) as session:
        rows = repository.due_for_start(session, now, now - OVERDUE, BATCH)
        return [(str(row.id), int(row.workflow_attempt)) for row in rows]


def _purge(rt: Runtime) -> None:
    with rt.db.session() as session:
        repository.purge_ended(session, utcnow() - RETENTION)
