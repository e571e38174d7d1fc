"""Fair share of the createTask pace: one user's long queue against other users' single jobs,
with users taking turns and, in the same run, strictly in arrival order (the FIFO baseline).

    .venv/bin/python -m bench.fairness [--shape pg|sqlite] [--heavy-jobs 200] [--light-jobs 20]
                                       [--light-users 5] [--light-every 2] [--limit 20]

Per mode a fresh cluster (FIFO: IMAGE2AD_JOBS_FAIR_SHARE=false) and Kie's real create limit
(20 per 10 s). The heavy user posts --heavy-jobs text-to-image jobs, one request after another;
2 s later the light users post one job each in turn, one every --light-every seconds.

- A light job's wait runs from its acceptance (`created_at`) to Kie's acceptance of its task
  (`submitted_at`, the task id saved); each also records how many of the heavy user's jobs were
  still waiting when it arrived.
- The heavy user's order: the furthest any of its jobs was sent from its place in its queue.
- The pace: the creates' span against the shared gate's even pace for as many
  (`(creates - 1) x period / limit x 1.01`), the busiest `period`, and the creates Kie refused.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import sqlalchemy as sa
from bench.burst import busiest_window
from bench.cluster import PG_ADMIN_DSN, BenchUser, Cluster, epoch
from bench.common import machine, percentile, result_name, save

from image2ad.models import Job

MODES = {"fifo": {"IMAGE2AD_JOBS_FAIR_SHARE": "false"}, "fair": {}}


async def _post(client: httpx.AsyncClient, url: str, user: BenchUser, prompt: str) -> str:
    body = {"type": "text-to-image", "prompt": prompt}
    reply = await client.post(f"{url}/api/v1/jobs", json=body, headers=user.headers)
    if reply.status_code != 202:
        raise RuntimeError(f"{prompt}: {reply.status_code} {reply.text[:200]}")
    job_id: str = reply.json()["id"]
    return job_id


def _waiting(cluster: Cluster, user_id: str) -> int:
    assert cluster.db is not None
    with cluster.db.session(read_only=True) as session:
        query = sa.select(sa.func.count()).where(Job.user_id == user_id, Job.status == "pending")
        return int(session.scalar(query) or 0)


async def _traffic(cluster: Cluster, args: argparse.Namespace) -> tuple[list[str], list[dict]]:
    heavy, lights = cluster.bench_users[0], cluster.bench_users[1:]
    urls = cluster.api_urls
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        # One after another, so acceptance order is the order of `created_at` (concurrent
        # creates of one user commit in another order than they were stamped).
        heavy_ids = [
            await _post(client, urls[n % len(urls)], heavy, f"heavy {n}")
            for n in range(args.heavy_jobs)
        ]
        await asyncio.sleep(2)
        light: list[dict] = []
        started = time.monotonic()
        for n in range(args.light_jobs):
            await asyncio.sleep(max(0.0, started + n * args.light_every - time.monotonic()))
            backlog = await asyncio.to_thread(_waiting, cluster, heavy.id)
            user = lights[n % len(lights)]
            job_id = await _post(client, urls[n % len(urls)], user, f"light {n}")
            light.append({"id": job_id, "user": user.id, "heavy_waiting": backlog})
    return list(heavy_ids), light


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    emulator = {
        "create_limit": args.limit,
        "create_period_s": args.period,
        "image_duration_s": args.image_seconds,
    }
    users = 1 + args.light_users
    with Cluster(shape=args.shape, emulator=emulator, users=users, env=MODES[mode]) as cluster:
        before = cluster.calls()
        heavy_ids, light = asyncio.run(_traffic(cluster, args))
        ids = heavy_ids + [job["id"] for job in light]
        timeout = len(ids) / args.limit * args.period * 3 + 120
        jobs = {job.id: job for job in cluster.wait_finished(ids, timeout=timeout)}
        creates = (cluster.calls() - before)["createTask"]
        tasks = cluster.emulator_tasks()
        create_times = sorted(record["createTime"] / 1000 for record in tasks.values())
    waits = []
    for job in light:
        row = jobs[job["id"]]
        if row.submitted_at is not None:
            waits.append(epoch(row.submitted_at) - epoch(row.created_at))
    # How far any heavy job left out of its place in its user's queue (in jobs).
    heavy = sorted((jobs[i] for i in heavy_ids if jobs[i].submitted_at), key=lambda j: j.created_at)
    sent_rank = {j.id: r for r, j in enumerate(sorted(heavy, key=lambda j: j.submitted_at))}
    displaced = max(abs(sent_rank[j.id] - r) for r, j in enumerate(heavy))
    minimum = (len(create_times) - 1) * args.period / args.limit * 1.01
    span = create_times[-1] - create_times[0]
    return {
        "light_wait_s": {
            "n": len(waits),
            "p50": round(percentile(waits, 50), 2),
            "p95": round(percentile(waits, 95), 2),
            "max": round(max(waits), 2),
        },
        "heavy_waiting_when_light_arrived": {
            "min": min(job["heavy_waiting"] for job in light),
            "max": max(job["heavy_waiting"] for job in light),
        },
        "heavy_max_displacement": displaced,
        "statuses": dict(Counter(job.status for job in jobs.values())),
        "creates": {
            "calls": creates,
            "tasks": len(create_times),
            "rejected_429": creates - len(create_times),
            "span_s": round(span, 1),
            "minimum_s": round(minimum, 1),
            "ratio": round(span / minimum, 3),
            "busiest_window": busiest_window(create_times, args.period),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shape", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--heavy-jobs", type=int, default=200)
    parser.add_argument("--light-jobs", type=int, default=20)
    parser.add_argument("--light-users", type=int, default=5)
    parser.add_argument("--light-every", type=float, default=2.0, help="seconds between them")
    parser.add_argument("--limit", type=int, default=20, help="createTask calls per period")
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--image-seconds", type=float, default=3.0)
    parser.add_argument("--modes", default="fifo,fair", help="comma-separated: fifo, fair")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine(PG_ADMIN_DSN), "args": vars(args)}
    for mode in args.modes.split(","):
        result[mode] = run_mode(mode, args)
        print(mode, result[mode]["light_wait_s"], result[mode]["creates"], flush=True)
    save(result_name(f"fairness-{args.shape}", args.tag, "default"), result)


if __name__ == "__main__":
    main()
