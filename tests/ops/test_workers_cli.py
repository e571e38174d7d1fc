"""`image2ad workers list` marks each process alive, dead or handed over (real databases)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from image2ad.db import Database
from image2ad.jobs.workers import HANDED_OVER
from image2ad.models import WorkerHeartbeat
from image2ad.models.base import utcnow
from tests.ops.servers import cli


def test_workers_list_marks_alive_dead_and_handed_over(db: Database, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    now = utcnow()
    seen = {
        f"api-{tag}": ("api", now),
        f"worker-{tag}": ("worker", now - timedelta(minutes=10)),
        f"stopped-{tag}": ("worker", HANDED_OVER),
    }
    with db.session() as session:
        for executor_id, (role, last_seen) in seen.items():
            session.add(
                WorkerHeartbeat(
                    executor_id=executor_id,
                    role=role,
                    host="host-a",
                    pid=4242,
                    started_at=now - timedelta(hours=1),
                    last_seen_at=last_seen,
                )
            )
    try:
        result = cli(
            {
                "IMAGE2AD_DATABASE_URL": db.url,
                "IMAGE2AD_DATA_DIR": str(tmp_path),
                "IMAGE2AD_SECRET_KEY": "workers-list-test-secret",
            },
            "workers",
            "list",
        )
    finally:
        with db.session() as session:
            session.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.pid == 4242))
    assert result.returncode == 0, result.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in result.stdout.splitlines()}
    assert rows[f"api-{tag}"][1] == "api" and rows[f"api-{tag}"][-1] == "alive"
    assert rows[f"worker-{tag}"][-1] == "dead"
    assert rows[f"stopped-{tag}"][-1] == "handed-over"
    assert rows[f"api-{tag}"][2] == "host-a:4242"
