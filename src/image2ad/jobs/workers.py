"""Which worker processes are alive, and recovering the workflows of one that died for good.

DBOS recovers a process's unfinished workflows when a process with the same executor id starts
again. A node that never comes back would strand them, so every process beats here and any
worker re-enqueues the workflows of an executor silent for longer than `dead_after`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import datetime, timedelta

import sqlalchemy as sa
from dbos import DBOS

from image2ad.dbutil import insert_ignore_conflict
from image2ad.models import WorkerHeartbeat
from image2ad.models.base import utcnow
from image2ad.runtime import Runtime

log = logging.getLogger(__name__)


def beat(rt: Runtime) -> None:
    now = utcnow()
    with rt.db.session() as session:
        written = insert_ignore_conflict(
            session,
            WorkerHeartbeat.__table__,  # type: ignore[arg-type]
            {
                "executor_id": rt.executor_id(),
                "role": rt.role,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": now,
                "last_seen_at": now,
            },
        )
        if not written:
            session.execute(
                sa.update(WorkerHeartbeat)
                .where(WorkerHeartbeat.executor_id == rt.executor_id())
                .values(last_seen_at=now, pid=os.getpid(), role=rt.role)
            )


def list_workers(rt: Runtime) -> list[WorkerHeartbeat]:
    with rt.db.session(read_only=True) as session:
        return list(
            session.scalars(sa.select(WorkerHeartbeat).order_by(WorkerHeartbeat.executor_id))
        )


def _claim_dead(rt: Runtime, dead_after: timedelta) -> list[str]:
    """Executors silent past the cutoff, each claimed by deleting its row (one claimer wins)."""
    cutoff = utcnow() - dead_after
    claimed: list[str] = []
    with rt.db.session() as session:
        rows = session.execute(
            sa.select(WorkerHeartbeat.executor_id, WorkerHeartbeat.last_seen_at).where(
                WorkerHeartbeat.last_seen_at < cutoff,
                WorkerHeartbeat.executor_id != rt.executor_id(),
            )
        ).all()
    for executor_id, seen in rows:
        if _delete_if_unchanged(rt, executor_id, seen):
            claimed.append(executor_id)
    return claimed


def _delete_if_unchanged(rt: Runtime, executor_id: str, seen: datetime) -> bool:
    with rt.db.session() as session:
        result = session.execute(
            sa.delete(WorkerHeartbeat).where(
                WorkerHeartbeat.executor_id == executor_id, WorkerHeartbeat.last_seen_at == seen
            )
        )
        return bool(getattr(result, "rowcount", 0) == 1)


async def recover(executor_id: str) -> int:
    """Re-enqueue an executor's unfinished workflows so any live worker runs them."""
    handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])
    if handles:
        log.warning("recovered %d workflows of executor %s", len(handles), executor_id)
    return len(handles)


async def recover_dead(rt: Runtime, dead_after: timedelta) -> int:
    total = 0
    for executor_id in await asyncio.to_thread(_claim_dead, rt, dead_after):
        total += await recover(executor_id)
    return total


def count_live(rt: Runtime, within: timedelta) -> int:
    """Workers that beat recently (API-only processes do not poll, so they are not counted)."""
    with rt.db.session(read_only=True) as session:
        count = session.scalar(
            sa.select(sa.func.count()).where(
                WorkerHeartbeat.last_seen_at >= utcnow() - within,
                WorkerHeartbeat.role.in_(["serve", "worker"]),
            )
        )
    return max(1, int(count or 0))
