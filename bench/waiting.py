"""10,000 jobs waiting on the provider, held by one worker process: its RSS and CPU over a minute,
against the same worker idle (no jobs) in the same run.

    .venv/bin/python -m bench.waiting [--jobs 10000] [--window 60]

Jobs are accepted through the service layer (as POST /jobs does, minus HTTP) and the worker
submits every one of them to the emulator (tasks last an hour, callbacks on); the create limit
is raised on both sides so intake is not throttled by Kie's 20/10 s.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from bench.cluster import PG_ADMIN_DSN, Cluster
from bench.common import cpu_seconds, machine, py_spy_dump, rss_mib, save, threads

from image2ad.catalog import Catalog
from image2ad.jobs import service
from image2ad.jobs.schemas import JobCreate
from image2ad.models import Job, User
from image2ad.models.base import utcnow

WORKER = "worker-1"


def observe(cluster: Cluster, seconds: float) -> dict[str, Any]:
    """RSS, threads and CPU share of the worker over `seconds`, plus Kie calls per second."""
    pid = cluster.pid(WORKER)
    calls_before, cpu_before, start = cluster.calls(), cpu_seconds(pid), time.monotonic()
    rss: list[float] = []
    while time.monotonic() - start < seconds:
        rss.append(rss_mib(pid))
        time.sleep(1)
    wall = time.monotonic() - start
    calls = cluster.calls() - calls_before
    return {
        "seconds": round(wall),
        "rss_mib_max": round(max(rss), 1),
        "rss_mib_end": round(rss[-1], 1),
        "threads": threads(pid),
        "cpu_pct": round(100 * (cpu_seconds(pid) - cpu_before) / wall, 1),
        "kie_calls_per_s": {name: round(n / wall, 1) for name, n in calls.items()},
    }


def accept_jobs(cluster: Cluster, count: int) -> None:
    assert cluster.db is not None
    catalog = Catalog.load(None)
    request = JobCreate(type="text-to-image", prompt="a waiting ad")
    with cluster.db.session() as session:
        users = [session.get_one(User, u.id) for u in cluster.bench_users]
        for n in range(count):
            service.create_job(
                session,
                users[n % len(users)],
                request,
                catalog=catalog,
                deadline=timedelta(hours=2),
                max_active=count,
            )
        # Due now: the worker's sweeper starts the submissions (POST /jobs would enqueue them).
        session.execute(sa.update(Job).values(next_check_at=utcnow()))


def waiting_count(cluster: Cluster) -> int:
    assert cluster.db is not None
    with cluster.db.session(read_only=True) as session:
        query = sa.select(sa.func.count()).select_from(Job).where(Job.task_id.is_not(None))
        return int(session.scalar(query) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    emulator = {"image_duration_s": 3600.0, "create_limit": 100_000, "create_period_s": 10.0}
    result: dict[str, Any] = {"machine": machine(PG_ADMIN_DSN), "args": vars(args)}
    with Cluster(shape="pg", apis=1, workers=1, emulator=emulator, credits_each=10**6) as cluster:
        result["idle_worker"] = observe(cluster, 20)
        started = time.monotonic()
        accept_jobs(cluster, args.jobs)
        accepted_s = time.monotonic() - started
        peak = 0.0
        while (waiting := waiting_count(cluster)) < args.jobs:
            peak = max(peak, rss_mib(cluster.pid(WORKER)))
            if time.monotonic() - started > 600:
                raise TimeoutError(f"only {waiting} of {args.jobs} jobs submitted")
            time.sleep(2)
        result["intake"] = {
            "accepted_s": round(accepted_s, 1),
            "all_waiting_s": round(time.monotonic() - started, 1),
            "rss_mib_peak_during_intake": round(peak, 1),
        }
        result["waiting"] = observe(cluster, args.window)
        result["py_spy_dump"] = py_spy_dump(cluster.pid(WORKER))[-3000:]
    save("waiting" + (f"-{args.tag}" if args.tag else ""), result)


if __name__ == "__main__":
    main()
