"""A 20-job ad pack (5 placements x 4 variants) from one user against Kie's real create limit:
its jobs must leave at the shared createTask pace, with no refused (429) calls.

    .venv/bin/python -m bench.pack_pace [--shape pg|sqlite] [--limit 20] [--period 10]

Makespan runs from the pack's submission to its last `completed_at`; the minimum is the last
create's slot at the shared gate's even pace plus one image's generation time. 429s are
createTask calls the emulator refused (calls minus tasks made); the busiest window counts
creates Kie accepted within any `period` seconds.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

import httpx
from bench.burst import busiest_window
from bench.cluster import PG_ADMIN_DSN, Cluster, epoch
from bench.common import machine, result_name, save

from image2ad import placements

PLACEMENTS = ["feed", "portrait", "story", "landscape", "link"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--limit", type=int, default=20, help="createTask calls per period")
    parser.add_argument("--period", type=float, default=10.0)
    parser.add_argument("--image-seconds", type=float, default=3.0)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    emulator = {
        "create_limit": args.limit,
        "create_period_s": args.period,
        "image_duration_s": args.image_seconds,
    }
    count = len(PLACEMENTS) * args.variants
    # The shared gate spaces sends evenly at period / limit x 1.01 (ADR 0006): the last of the
    # pack's creates leaves (count - 1) slots after the first, then its image takes its time.
    minimum = (count - 1) * args.period / args.limit * 1.01 + args.image_seconds
    result: dict[str, Any] = {"machine": machine(PG_ADMIN_DSN), "args": vars(args)}
    with Cluster(shape=args.shape, emulator=emulator, users=1) as cluster:
        user = cluster.bench_users[0]
        before = cluster.calls()
        body = {
            "type": "text-to-image",
            "prompt": "Trail running shoes on wet rocks, morning mist",
            "placements": PLACEMENTS,
            "variants": args.variants,
        }
        started = time.time()
        reply = httpx.post(
            f"{cluster.api_urls[0]}/api/v1/packs", json=body, headers=user.headers, timeout=60
        )
        reply.raise_for_status()
        accepted_s = time.time() - started
        ids = [job["id"] for job in reply.json()["jobs"]]
        jobs = cluster.wait_finished(ids, timeout=count / args.limit * args.period * 4 + 120)
        makespan = max(epoch(job.completed_at) for job in jobs if job.completed_at) - started
        creates = (cluster.calls() - before)["createTask"]
        tasks = cluster.emulator_tasks()
        create_times = [record["createTime"] / 1000 for record in tasks.values()]
        result["pack"] = {
            "jobs": count,
            "accepted_in_s": round(accepted_s, 2),
            "statuses": dict(Counter(job.status for job in jobs)),
            "ratios": dict(Counter(str(job.params.get("aspect_ratio")) for job in jobs)),
            "results_match_placement": sum(1 for job in jobs if job.result_width and _matches(job)),
            "makespan_s": round(makespan, 1),
            "minimum_s": round(minimum, 1),
            "ratio": round(makespan / minimum, 3),
            "create_calls": creates,
            "tasks_created": len(tasks),
            "rejected_429": creates - len(tasks),
            "busiest_window_creates": busiest_window(create_times, args.period),
            "resubmitted_jobs": sum(1 for job in jobs if job.submit_attempts > 1),
        }
    save(result_name(f"pack-pace-{args.shape}", args.tag, "default"), result)


def _matches(job: Any) -> bool:
    return bool(placements.get(job.placement).matches(job.result_width, job.result_height))


if __name__ == "__main__":
    main()
