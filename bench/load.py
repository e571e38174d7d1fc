"""Status reads and job creation at fixed request rates (open loop), on PostgreSQL and SQLite.

    .venv/bin/python -m bench.load [--shape pg|sqlite] [--reads 100,300] [--creates 20,50]

Requests are sent on a fixed schedule whatever the answers do; latency runs from the scheduled
send time, so a server that falls behind shows it (no coordinated omission). Baseline: GET
/healthz at the highest read rate, the cost of HTTP + the framework without the database.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from bench.cluster import PG_ADMIN_DSN, Cluster, submit_jobs
from bench.common import cpu_seconds, machine, save, summary_ms

PHASE_S = 20.0
Request = Callable[[httpx.AsyncClient, int], Any]


async def open_loop(send: Request, rate: float, seconds: float) -> dict[str, Any]:
    """Fire `send(client, n)` at `rate` per second for `seconds`; collect latency and statuses."""
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one(n: int, due: float) -> None:
            try:
                reply = await send(client, n)
                statuses[reply.status_code] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                return
            latencies.append(time.monotonic() - due)

        start = time.monotonic() + 0.2
        tasks = []
        for n in range(int(rate * seconds)):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(one(n, due)))
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - start
    return {
        "rate": rate,
        "achieved_rps": round(len(latencies) / elapsed, 1),
        "statuses": {str(k): v for k, v in statuses.items()},
        **summary_ms(latencies),
    }


def server_cpu(cluster: Cluster) -> dict[str, float]:
    return {name: cpu_seconds(p.pid) for name, p in cluster.processes.items()}


def measured(cluster: Cluster, send: Request, rate: float) -> dict[str, Any]:
    cpu_before, wall = server_cpu(cluster), time.monotonic()
    result = asyncio.run(open_loop(send, rate, PHASE_S))
    wall = time.monotonic() - wall
    result["cpu_pct"] = {
        name: round(100 * (used - cpu_before[name]) / wall)
        for name, used in server_cpu(cluster).items()
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--reads", default="100,300", help="status-read rates (req/s)")
    parser.add_argument("--creates", default="20,50", help="job-creation rates (req/s)")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine(PG_ADMIN_DSN), "args": vars(args)}
    read_rates = [float(r) for r in args.reads.split(",") if r]
    create_rates = [float(r) for r in args.creates.split(",") if r]
    # Long generations keep the created jobs waiting, as they would be mid-day.
    with Cluster(shape=args.shape, emulator={"image_duration_s": 600.0}) as cluster:
        users = {u.id: u for u in cluster.bench_users}
        jobs = asyncio.run(submit_jobs(cluster, 200))
        owners = {job.id: users[job.user_id] for job in cluster.jobs([j for j, _ in jobs])}
        reads = list(itertools.product(owners.items(), cluster.api_urls))

        def status(client: httpx.AsyncClient, n: int) -> Any:
            (job_id, user), url = reads[n % len(reads)]
            return client.get(f"{url}/api/v1/jobs/{job_id}", headers=user.headers)

        def health(client: httpx.AsyncClient, n: int) -> Any:
            return client.get(f"{cluster.api_urls[n % len(cluster.api_urls)]}/healthz")

        def create(client: httpx.AsyncClient, n: int) -> Any:
            user = cluster.bench_users[n % len(cluster.bench_users)]
            url = cluster.api_urls[n % len(cluster.api_urls)]
            body = {"type": "text-to-image", "prompt": f"load {n}"}
            return client.post(f"{url}/api/v1/jobs", json=body, headers=user.headers)

        result["baseline_healthz"] = measured(cluster, health, max(read_rates))
        result["status_reads"] = [measured(cluster, status, rate) for rate in read_rates]
        result["job_creation"] = [measured(cluster, create, rate) for rate in create_rates]
    save(f"load-{args.shape}" + (f"-{args.tag}" if args.tag else ""), result)


if __name__ == "__main__":
    main()
