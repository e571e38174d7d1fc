"""A graceful stop of a process's durable-workflow engine (SIGTERM).

The sweeper and the queues stop first, so no new work starts here; running workflows get a
grace period; whatever is left stays PENDING under this executor id and is handed over: the
heartbeat row is marked so a live worker re-enqueues it at its next beat (seconds), not after
the dead-worker timeout. With nothing left, the row is removed and the process just leaves.
"""

from __future__ import annotations

import logging

from image2ad.jobs import engine, stuck, workers
from image2ad.runtime import Runtime

log = logging.getLogger(__name__)


async def stop_engine(rt: Runtime, grace_s: float) -> int:
    """Stop DBOS after up to `grace_s` for running workflows; returns how many were handed over."""
    await engine.shutdown(rt, grace_s)
    try:
        # Blocking calls on purpose: DBOS made its pool the loop's default executor and has
        # just shut it down, so asyncio.to_thread is no longer available.
        left = stuck.pending_of_executor(rt.db, rt.executor_id())
        workers.leave(rt, handing_over=left > 0)
    except Exception:
        # The database is gone too: the heartbeat goes stale and the takeover comes later.
        log.exception("could not record the stop of executor %s", rt.executor_id())
        return 0
    if left:
        log.warning(
            "executor %s stopped with %d unfinished workflows; handing them over",
            rt.executor_id(),
            left,
        )
    return left
