"""Which processes are alive, and recovering the workflows of one that died for good.

DBOS recovers a process's unfinished workflows when a process with the same executor id starts
again. A node that never comes back would strand them, so every process (workers, and API
processes too, so operators see them) beats here and any worker re-enqueues the workflows of an
executor silent for longer than `dead_after`. A process that stops gracefully either removes its
row (nothing left to run) or marks it handed over (`last_seen_at` at the epoch), so a live worker
takes its unfinished workflows over at its next beat instead of after `dead_after`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from dbos import DBOS

from image2ad.db import Database
from image2ad.dbutil import insert_ignore_conflict
from image2ad.models import WorkerHeartbeat
from image2ad.models.base import utcnow
from image2ad.runtime import Runtime

log = logging.getLogger(__name__)

HANDED_OVER = datetime(1970, 1, 1, tzinfo=UTC)


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


async def beat_forever(rt: Runtime) -> None:
    """Heartbeats of a process without a sweeper (API-only), so `workers list` shows it."""
    while True:
        try:
            await asyncio.to_thread(beat, rt)
        except Exception:
            log.exception("heartbeat failed")
        await asyncio.sleep(rt.settings.jobs.heartbeat_s)


def leave(rt: Runtime, *, handing_over: bool) -> None:
    """A graceful stop: drop this process's row, or mark it for immediate takeover."""
    with rt.db.session() as session:
        mine = WorkerHeartbeat.executor_id == rt.executor_id()
        if handing_over:
            session.execute(sa.update(WorkerHeartbeat).where(mine).values(last_seen_at=HANDED_OVER))
        else:
            session.execute(sa.delete(WorkerHeartbeat).where(mine))


@dataclass(frozen=True)
class WorkerRow:
    executor_id: str
    role: str
    host: str
    pid: int
    started_at: datetime
    last_seen_at: datetime
    state: str  # alive | dead (silent past dead_after) | handed-over (stopped with work left)


def list_workers(rt: Runtime, dead_after: timedelta | None = None) -> list[WorkerRow]:
    dead_after = dead_after or timedelta(seconds=rt.settings.jobs.executor_dead_after_s)
    cutoff = utcnow() - dead_after
    with rt.db.session(read_only=True) as session:
        rows = session.scalars(sa.select(WorkerHeartbeat).order_by(WorkerHeartbeat.executor_id))
        return [
            WorkerRow(
                executor_id=row.executor_id,
                role=row.role,
                host=row.host,
                pid=row.pid,
                started_at=row.started_at,
                last_seen_at=row.last_seen_at,
                state=_state(row.last_seen_at, cutoff),
            )
            for row in rows
        ]


def executor_states(db: Database, dead_after: timedelta) -> dict[str, str]:
    """Each beating executor's state (alive, dead, handed-over), without a runtime."""
    cutoff = utcnow() - dead_after
    with db.session(read_only=True) as session:
        rows = session.execute(sa.select(WorkerHeartbeat.executor_id, WorkerHeartbeat.last_seen_at))
        return {executor_id: _state(seen, cutoff) for executor_id, seen in rows}


def _state(seen: datetime, cutoff: datetime) -> str:
    if seen <= HANDED_OVER:
        return "handed-over"
    return "alive" if seen >= cutoff else "dead"


def _claim_dead(rt: Runtime, dead_after: timedelta) -> list[str]:
    """Executors silent past the cutoff, each claimed by deleting its row (one claimer wins)."""
    cutoff = utcnow() - dead_after
    claimed: list[str] = []
    with rt.db.session() as session:
        rows = session.execute(
            sa.select(
                WorkerHeartbeat.executor_id,
                WorkerHeartbeat.last_seen_at,
                WorkerHeartbeat.role,
                WorkerHeartbeat.host,
                WorkerHeartbeat.pid,
            ).where(
                WorkerHeartbeat.last_seen_at < cutoff,
                WorkerHeartbeat.executor_id != rt.executor_id(),
            )
        ).all()
    for executor_id, seen, role, host, pid in rows:
        if _delete_if_unchanged(rt, executor_id, seen):
            why = "stopped with work left" if seen <= HANDED_OVER else f"silent since {seen:%X}Z"
            log.warning(
                "taking over executor %s (%s on %s, pid %s): %s",
                executor_id,
                role,
                host,
                pid,
                why,
            )
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
    log.warning("recovered %d unfinished workflows of executor %s", len(handles), executor_id)
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
