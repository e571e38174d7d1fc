"""Prometheus metrics for GET /metrics.

Two kinds, read differently:
- Events a process counts as they happen (provider requests, createTask pace waits): events.py,
  summed over every process of the host at scrape time.
- Facts about jobs (terminal counts, completion times, unfinished jobs by status and stage)
  and webhook deliveries (by state), computed from the database at scrape time: the same
  answer from every API process, true across restarts and whichever process did the work.
  `image2ad_jobs_total` is a count of rows, so it only falls when an account (and with it its
  jobs) is deleted; Prometheus takes that for a counter reset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from image2ad.db import Database
from image2ad.jobs.status import ACTIVE, TERMINAL, JobStatus
from image2ad.models import Job, WebhookDelivery
from image2ad.observability import events

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
COMPLETION_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0)


class DatabaseCollector(Collector):
    """The job and webhook metrics, read from the database at each scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterable[Metric]:
        terminal = [str(s) for s in TERMINAL]
        active = [str(s) for s in ACTIVE]
        with self.db.session() as session:
            done = session.execute(
                sa.select(Job.type, Job.model, Job.status, sa.func.count())
                .where(Job.status.in_(terminal))
                .group_by(Job.type, Job.model, Job.status)
            ).all()
            depth = session.execute(
                sa.select(Job.status, Job.stage, sa.func.count())
                .where(Job.status.in_(active))
                .group_by(Job.status, Job.stage)
            ).all()
            duration = _seconds_between(session.get_bind().dialect.name)
            per_bucket = [
                sa.func.sum(sa.case((duration <= bound, 1), else_=0))
                for bound in COMPLETION_BUCKETS
            ]
            completion = session.execute(
                sa.select(Job.type, sa.func.count(), sa.func.sum(duration), *per_bucket)
                .where(Job.status == JobStatus.COMPLETED, Job.completed_at.is_not(None))
                .group_by(Job.type)
            ).all()
            hooks = session.execute(
                sa.select(WebhookDelivery.state, sa.func.count()).group_by(WebhookDelivery.state)
            ).all()

        jobs = CounterMetricFamily(
            "image2ad_jobs",
            "Jobs that reached a terminal status (completed, failed, canceled), from the database.",
            labels=["type", "model", "status"],
        )
        for type_, model, status, count in done:
            jobs.add_metric([type_, model, status], count)
        yield jobs

        queue = GaugeMetricFamily(
            "image2ad_queue_depth",
            "Unfinished jobs now, by status and stage, from the database.",
            labels=["status", "stage"],
        )
        # Every unfinished status is shown, at 0 too: an absent series cannot be told from a
        # broken scrape.
        now: dict[tuple[str, str], int] = {(status, ""): 0 for status in active}
        for status, stage, count in depth:
            now[status, stage or ""] = now.get((status, stage or ""), 0) + count
        for labels, count in now.items():
            queue.add_metric(list(labels), count)
        yield queue

        histogram = HistogramMetricFamily(
            "image2ad_job_completion_seconds",
            "Seconds from a job's creation to its completion, completed jobs by type.",
            labels=["type"],
        )
        for type_, count, total, *cumulative in completion:
            buckets = [
                (_bucket_label(bound), int(n or 0))
                for bound, n in zip(COMPLETION_BUCKETS, cumulative, strict=True)
            ]
            buckets.append(("+Inf", int(count)))
            histogram.add_metric([type_], buckets, float(total or 0.0))
        yield histogram

        deliveries = GaugeMetricFamily(
            "image2ad_webhook_deliveries",
            "Webhook deliveries by state (pending, delivered, failed), from the database.",
            labels=["state"],
        )
        for state, count in hooks:
            deliveries.add_metric([state], count)
        yield deliveries


def _seconds_between(dialect: str) -> sa.ColumnElement[float]:
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", Job.completed_at - Job.created_at), sa.Float)
    # SQLite keeps the timestamps as ISO text; julianday reads it (days, as a float).
    return (sa.func.julianday(Job.completed_at) - sa.func.julianday(Job.created_at)) * 86400.0


def _bucket_label(bound: float) -> str:
    return repr(float(bound))


class _LocalEvents(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from events.local_registry().collect()


def render(db: Database) -> bytes:
    """The exposition text: this host's counted events (every process) and the job metrics."""
    registry = CollectorRegistry(auto_describe=False)
    directory = events.multiprocess_dir()
    if directory is not None:
        MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    else:
        registry.register(_LocalEvents())
    registry.register(DatabaseCollector(db))
    return generate_latest(registry)
