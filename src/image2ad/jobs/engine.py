"""Starting and stopping the durable-workflow engine (DBOS) for one process.

Settings follow the study in docs/adr/0001: bounded executor threads, a pinned application
version, a stable executor id per process, WAL on SQLite, system tables beside the app's.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig
from dbos._queue import QueueRateLimit  # the limiter TypedDict; dbos exports no public name
from sqlalchemy import event

from image2ad import sqlite
from image2ad.db import is_sqlite
from image2ad.jobs import pipeline
from image2ad.logs import adopt_dbos_logger
from image2ad.runtime import Runtime
from image2ad.webhooks import delivery

BATCH = 500


def configure(rt: Runtime, *, listen: bool) -> None:
    """Create the DBOS instance (call before launch). `listen=False` makes an API-only process."""
    url = rt.db.url
    config: DBOSConfig = {
        "name": "image2ad",
        "system_database_url": url.replace("+psycopg", "") if not is_sqlite(url) else url,
        "application_version": rt.settings.app_version,
        "executor_id": rt.executor_id(),
        "max_executor_threads": rt.settings.jobs.max_executor_threads,
        "sys_db_pool_size": rt.settings.db_engine_pool_size,
        # DBOS is chatty at INFO (every migration, every queue); keep it to warnings unless
        # the operator asked for debug output.
        "log_level": "DEBUG" if rt.settings.log_level.upper() == "DEBUG" else "WARNING",
        "notification_listener_polling_interval_sec": 0.2,
    }
    if is_sqlite(url):
        config["system_database_engine"] = _sqlite_system_engine(url)
    DBOS(config=config)
    adopt_dbos_logger()
    if not listen:
        DBOS.listen_queues([])


def _sqlite_system_engine(url: str) -> sa.Engine:
    """DBOS's own SQLite engine settings plus WAL, which DBOS leaves off (+40 % measured), on
    the same SQLite library as ours (image2ad/sqlite.py)."""
    engine = sa.create_engine(
        url,
        module=sqlite.driver(),
        connect_args={"check_same_thread": False},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine


def create_queue_limiter(limit: int, period_s: float) -> QueueRateLimit:
    """Submit workflows start in quarter-window batches, a little faster than Kie's rate.

    The send gate (providers/kie/send_gate.py) holds the exact rate; this only keeps workflows
    coming to it. A whole window's starts at once (20) made a burst of CPU every 10 s, seen as slow
    requests every 10 s in the same process (bench.load); smaller batches spread that work.
    4 % faster than the gate keeps the queue's polling delay from slowing a long burst.
    """
    batch = max(1, limit // 4)
    return QueueRateLimit(limit=batch, period=period_s * batch / max(1, limit) * 0.96)


# Submissions in flight, in seconds of the createTask pace.
IN_FLIGHT_S = 1.5


def create_in_flight(limit: int, period_s: float) -> int:
    """How many submit workflows may run at once, across every process.

    Once started, a workflow holds its place: the send gate serves them in the order they
    reserve. Left unbounded, starts ran a little ahead of the gate and a long burst built a
    backlog there, which a user's first job then waited behind whatever its priority in the
    queue (jobs/queueing.py). Bounded to ~1.5 s of sends, the queue's order is the send order;
    three at the least, so the next workflow reaches the gate before the last slot is used.
    """
    return max(3, math.ceil(limit / period_s * IN_FLIGHT_S))


async def launch(rt: Runtime) -> None:
    await asyncio.to_thread(DBOS.launch)
    kie = rt.settings.kie
    create = await DBOS.register_queue_async(
        pipeline.CREATE_QUEUE,
        limiter=create_queue_limiter(kie.create_limit, kie.create_period_s),
        global_concurrency=(
            create_in_flight(kie.create_limit, kie.create_period_s)
            if rt.settings.jobs.fair_share
            else None
        ),
        polling_interval_sec=0.2,
        on_conflict="always_update",
    )
    finish = await DBOS.register_queue_async(
        pipeline.FINISH_QUEUE,
        worker_concurrency=16,
        # A finished task waits for this poll before it is stored: it is most of the latency.
        polling_interval_sec=0.05,
        on_conflict="always_update",
    )
    pipeline.use_queues(create, finish)
    # No concurrency cap: a delivery waiting out its retry pause holds its place for hours.
    webhooks = await DBOS.register_queue_async(
        delivery.QUEUE, polling_interval_sec=0.2, on_conflict="always_update"
    )
    delivery.use_queue(webhooks)


async def shutdown(rt: Runtime | None = None, grace_s: float = 0) -> None:
    """Stop the engine: no new workflows start; running ones get up to `grace_s` to finish.

    Whatever is still running after that stays PENDING under this executor id, for this
    process's successor or a live worker to recover.
    """
    timeout = 0
    if rt is not None and grace_s > 0:
        running = await DBOS.list_workflows_async(
            status="PENDING",
            executor_id=rt.executor_id(),
            limit=1,
            load_input=False,
            load_output=False,
        )
        # DBOS checks once a second, after a first sleep: skip the wait when nothing runs.
        timeout = math.ceil(grace_s) if running else 0
    await asyncio.to_thread(
        DBOS.destroy, destroy_registry=False, workflow_completion_timeout_sec=timeout
    )


async def delete_finished_workflows(older_than_h: float) -> int:
    """Retention: each job leaves ~10 workflow rows; drop finished ones after a while."""
    cutoff = (datetime.now(UTC) - timedelta(hours=older_than_h)).isoformat()
    deleted = 0
    while True:
        finished = await DBOS.list_workflows_async(
            status=["SUCCESS", "ERROR", "CANCELLED"],
            end_time=cutoff,
            limit=BATCH,
            load_input=False,
            load_output=False,
        )
        if not finished:
            return deleted
        await DBOS.delete_workflows_async([wf.workflow_id for wf in finished])
        deleted += len(finished)
