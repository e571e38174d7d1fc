"""A burst of jobs from many users against the provider's create limit, and the original design
(every request calls createTask at once, no limiter) against the same emulator.

    .venv/bin/python -m bench.burst [--shape pg|sqlite] [--jobs 1000] [--limit 200] [--period 10]
                                    [--models mixed]

Makespan runs from the first submission to the last `completed_at`; the minimum the limit allows
is jobs / limit x period. 429s are createTask calls the emulator refused (calls - tasks made).
The jobs are text-to-image; `--models mixed` sends them round-robin over the catalog's
text-to-image models (the original design's creates stay on google/nano-banana).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Any

import httpx
from bench.cluster import KIE_KEY, PG_ADMIN_DSN, Cluster, epoch, submit_jobs
from bench.common import machine, model_mix, result_name, save


def busiest_window(times: list[float], period: float) -> int:
    """Most creates accepted within any `period` seconds."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - period:
            start += 1
        best = max(best, end - start + 1)
    return best


async def original_design(cluster: Cluster, jobs: int) -> dict[str, int]:
    """One createTask per job, all at once, as the edge functions did (another Kie account)."""
    headers = {"Authorization": f"Bearer {KIE_KEY}-original"}
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(
        base_url=cluster.emulator_url, headers=headers, timeout=60, limits=limits
    ) as kie:

        async def one(n: int) -> int:
            body = {"model": "google/nano-banana", "input": {"prompt": f"burst {n}"}}
            reply = await kie.post("/api/v1/jobs/createTask", json=body)
            # Kie refuses with code 429 in the body, of an HTTP 200 (kie-models.md §1).
            return int(reply.json()["code"])

        statuses = Counter(await asyncio.gather(*(one(n) for n in range(jobs))))
    return {"accepted": statuses[200], "rejected_429": statuses[429]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--limit", type=int, default=200, help="createTask calls per period")
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--image-seconds", type=float, default=3.0)
    parser.add_argument("--models", choices=["default", "mixed"], default="default")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    mix = model_mix(args.models, "text-to-image")
    emulator = {
        "create_limit": args.limit,
        "create_period_s": args.period,
        "image_duration_s": args.image_seconds,
    }
    minimum = args.jobs / args.limit * args.period
    result: dict[str, Any] = {"machine": machine(PG_ADMIN_DSN), "args": vars(args), "mix": mix}
    with Cluster(shape=args.shape, emulator=emulator, users=args.users) as cluster:
        before = cluster.calls()
        started = time.time()
        # Modest client concurrency: PostgreSQL here allows 100 connections for everyone.
        accepted = asyncio.run(submit_jobs(cluster, args.jobs, models=mix, concurrency=10))
        intake_s = time.time() - started
        jobs = cluster.wait_finished([job_id for job_id, _ in accepted], timeout=minimum * 4 + 120)
        makespan = max(epoch(job.completed_at) for job in jobs if job.completed_at) - started
        creates = (cluster.calls() - before)["createTask"]
        tasks = cluster.emulator_tasks()
        create_times = [record["createTime"] / 1000 for record in tasks.values()]
        result["image2ad"] = {
            "jobs": args.jobs,
            "statuses": dict(Counter(job.status for job in jobs)),
            "models": dict(Counter(job.model for job in jobs)),
            "errors": dict(Counter(job.error_code for job in jobs if job.error_code)),
            "intake_s": round(intake_s, 1),
            "makespan_s": round(makespan, 1),
            "minimum_s": round(minimum, 1),
            "ratio": round(makespan / minimum, 3),
            "create_calls": creates,
            "tasks_created": len(tasks),
            "rejected_429": creates - len(tasks),
            "busiest_window_creates": busiest_window(create_times, args.period),
            "resubmitted_jobs": sum(1 for job in jobs if job.submit_attempts > 1),
        }
        result["original_design"] = asyncio.run(original_design(cluster, args.jobs))
    save(result_name(f"burst-{args.shape}", args.tag, args.models), result)


if __name__ == "__main__":
    main()
