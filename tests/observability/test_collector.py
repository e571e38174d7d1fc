"""The database-derived metrics on a database of the test's own (SQLite and PostgreSQL): exact
counts, one series per label set, and completion times bucketed from the rows' timestamps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from image2ad.db import Database
from image2ad.models import Job
from image2ad.models.base import utcnow
from image2ad.observability import metrics
from tests.fixtures.factories import create_user


def add_job(db: Database, user_id: str, **fields: Any) -> str:
    now = utcnow()
    defaults: dict[str, Any] = {
        "user_id": user_id,
        "type": "text-to-image",
        "prompt": "p",
        "model": "google/nano-banana",
        "callback_secret": "s",
        "deadline_at": now + timedelta(minutes=15),
        "created_at": now,
    }
    job = Job(**(defaults | fields))
    with db.session() as session:
        session.add(job)
        session.flush()
        if "stage" in fields and fields["stage"] is None:
            # The ORM fills in the column's default for None; a row may still hold NULL.
            session.execute(sa.update(Job).where(Job.id == job.id).values(stage=None))
        return job.id


def test_counts_buckets_and_one_series_per_label_set(own_db: Database) -> None:
    user = create_user(own_db)
    start = utcnow() - timedelta(hours=1)
    for seconds in (3, 7, 45):
        add_job(
            own_db,
            user.id,
            status="completed",
            stage=None,
            created_at=start,
            completed_at=start + timedelta(seconds=seconds),
        )
    add_job(own_db, user.id, status="failed", stage=None, type="text-to-video", model="veo")
    add_job(own_db, user.id, status="pending", stage=None)
    add_job(own_db, user.id, status="pending", stage="queued")
    add_job(own_db, user.id, status="processing", stage="generating")

    text = metrics.render(own_db).decode()
    samples = [
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]
    keys = [(name, labels) for name, labels, _ in samples]
    assert len(keys) == len(set(keys)), "a series appears twice"
    got = {(name, labels): value for name, labels, value in samples}

    def at(name: str, **labels: str) -> float:
        return got[name, tuple(sorted(labels.items()))]

    done = {"type": "text-to-image", "model": "google/nano-banana"}
    assert at("image2ad_jobs_total", **done, status="completed") == 3
    assert at("image2ad_jobs_total", type="text-to-video", model="veo", status="failed") == 1
    assert at("image2ad_queue_depth", status="pending", stage="") == 1
    assert at("image2ad_queue_depth", status="pending", stage="queued") == 1
    assert at("image2ad_queue_depth", status="processing", stage="generating") == 1
    assert at("image2ad_queue_depth", status="processing", stage="") == 0
    hist = "image2ad_job_completion_seconds"
    assert at(f"{hist}_bucket", type="text-to-image", le="5.0") == 1
    assert at(f"{hist}_bucket", type="text-to-image", le="10.0") == 2
    assert at(f"{hist}_bucket", type="text-to-image", le="30.0") == 2
    assert at(f"{hist}_bucket", type="text-to-image", le="60.0") == 3
    assert at(f"{hist}_bucket", type="text-to-image", le="+Inf") == 3
    assert at(f"{hist}_count", type="text-to-image") == 3
    assert abs(at(f"{hist}_sum", type="text-to-image") - 55.0) < 0.01
