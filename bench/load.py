"""Status reads and job creation at fixed request rates (open loop), on PostgreSQL and SQLite.

    .venv/bin/python -m bench.load [--shape pg|sqlite] [--reads 100,300] [--creates 20,50]
        [--churn 2]

Requests are sent on a fixed schedule whatever the answers do; latency runs from the scheduled
send time, so a server that falls behind shows it (no coordinated omission). Baseline: GET
/healthz at the highest read rate, the cost of HTTP + the framework without the database.

The plain read phases run once the 200 jobs they read have all been handed to Kie (a quiet
server). `status_reads_busy` then repeats the highest read rate while jobs are created at
--churn per second and finish within the phase (5 s generations), so the same process submits
to Kie, takes callbacks and stores results while it answers the reads.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from bench.cluster import PG_ADMIN_DSN, Cluster, submit_jobs
from bench.common import cpu_seconds, machine, save, summary_ms

PHASE_S = 20.0
# Generations during the busy phase: short enough that jobs created in it also finish in it.
BUSY_IMAGE_S = 5.0
Request = Callable[[aiohttp.ClientSession, int], Awaitable[int]]


async def open_loop(send: Request, rate: float, seconds: float) -> dict[str, Any]:
    """Fire `send(client, n)` at `rate` per second for `seconds`; collect latency and statuses.

    aiohttp, not httpx: at 300 req/s httpx's client used most of a core and became the
    bottleneck it was meant to measure (it reached ~100 req/s while the server idled).
    """
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def one(n: int, due: float) -> None:
            try:
                status = await send(client, n)
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
                return
            statuses[status] += 1
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


async def fetch(client: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> int:
    async with client.request(method, url, **kwargs) as reply:
        await reply.read()
        return reply.status


def server_cpu(cluster: Cluster) -> dict[str, float]:
    return {name: cpu_seconds(p.pid) for name, p in cluster.processes.items()}


def measured(
    cluster: Cluster,
    send: Request,
    rate: float,
    what: str,
    beside: tuple[Request, float] | None = None,
) -> dict[str, Any]:
    """One phase; with `beside` (send, rate), a second open loop runs alongside, reported
    under "beside"."""
    print(f"{what} at {rate:g} req/s for {PHASE_S:g} s", file=sys.stderr, flush=True)
    cpu_before, wall = server_cpu(cluster), time.monotonic()

    async def both() -> list[dict[str, Any]]:
        loops = [open_loop(send, rate, PHASE_S)]
        if beside is not None:
            loops.append(open_loop(beside[0], beside[1], PHASE_S))
        return list(await asyncio.gather(*loops))

    result, *others = asyncio.run(both())
    wall = time.monotonic() - wall
    result["cpu_pct"] = {
        name: round(100 * (used - cpu_before[name]) / wall)
        for name, used in server_cpu(cluster).items()
    }
    if others:
        result["beside"] = others[0]
    return result


def wait_handed_to_kie(cluster: Cluster, ids: list[str], timeout: float = 600) -> float:
    """Block until every job has its Kie task (or has ended); returns the seconds waited."""
    started = time.monotonic()
    while True:
        jobs = cluster.jobs(ids)
        if all(job.task_id or job.status in ("completed", "failed", "canceled") for job in jobs):
            return round(time.monotonic() - started, 1)
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"jobs not handed to Kie after {timeout:g} s")
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--reads", default="100,300", help="status-read rates (req/s)")
    parser.add_argument("--creates", default="20,50", help="job-creation rates (req/s)")
    parser.add_argument(
        "--churn", type=float, default=2.0, help="job creations/s beside the busy read phase"
    )
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine(PG_ADMIN_DSN), "args": vars(args)}
    read_rates = [float(r) for r in args.reads.split(",") if r]
    create_rates = [float(r) for r in args.creates.split(",") if r]
    # Long generations keep the created jobs waiting, as they would be mid-day.
    with Cluster(shape=args.shape, emulator={"image_duration_s": 600.0}) as cluster:
        users = {u.id: u for u in cluster.bench_users}
        print("cluster up; creating 200 jobs to read", file=sys.stderr, flush=True)
        jobs = asyncio.run(submit_jobs(cluster, 200))
        owners = {job.id: users[job.user_id] for job in cluster.jobs([j for j, _ in jobs])}
        print("waiting until they are all handed to Kie", file=sys.stderr, flush=True)
        result["setup_submit_s"] = wait_handed_to_kie(cluster, list(owners))
        reads = list(itertools.product(owners.items(), cluster.api_urls))

        async def status(client: aiohttp.ClientSession, n: int) -> int:
            (job_id, user), url = reads[n % len(reads)]
            return await fetch(client, "GET", f"{url}/api/v1/jobs/{job_id}", headers=user.headers)

        async def health(client: aiohttp.ClientSession, n: int) -> int:
            return await fetch(
                client, "GET", f"{cluster.api_urls[n % len(cluster.api_urls)]}/healthz"
            )

        async def create(client: aiohttp.ClientSession, n: int) -> int:
            user = cluster.bench_users[n % len(cluster.bench_users)]
            url = cluster.api_urls[n % len(cluster.api_urls)]
            body = {"type": "text-to-image", "prompt": f"load {n}"}
            return await fetch(
                client, "POST", f"{url}/api/v1/jobs", json=body, headers=user.headers
            )

        result["baseline_healthz"] = measured(cluster, health, max(read_rates), "healthz")
        result["status_reads"] = [
            measured(cluster, status, rate, "status reads") for rate in read_rates
        ]
        if read_rates and args.churn:
            cluster.knobs(image_duration_s=BUSY_IMAGE_S)
            churn_ids: list[str] = []

            async def churn(client: aiohttp.ClientSession, n: int) -> int:
                user = cluster.bench_users[n % len(cluster.bench_users)]
                url = cluster.api_urls[n % len(cluster.api_urls)]
                body = {"type": "text-to-image", "prompt": f"busy {n}"}
                async with client.post(
                    f"{url}/api/v1/jobs", json=body, headers=user.headers
                ) as reply:
                    if reply.status == 202:
                        churn_ids.append((await reply.json())["id"])
                    return reply.status

            busy = measured(
                cluster,
                status,
                max(read_rates),
                f"status reads beside {args.churn:g} creates/s",
                beside=(churn, args.churn),
            )
            finished = cluster.status_counts(churn_ids)
            busy["beside"]["jobs_by_status_at_end"] = dict(finished)
            result["status_reads_busy"] = busy
            cluster.knobs(image_duration_s=600.0)
        result["job_creation"] = [
            measured(cluster, create, rate, "job creation") for rate in create_rates
        ]
    save(f"load-{args.shape}" + (f"-{args.tag}" if args.tag else ""), result)


if __name__ == "__main__":
    main()
