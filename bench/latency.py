"""Completion latency and provider calls per job, with callbacks, polling only, and the
original design's fixed 5 s poll, against one emulator in one run.

    .venv/bin/python -m bench.latency [--jobs 100] [--rate 5] [--baseline-tasks 40] [--models mixed]

Latency is the emulator task's terminal time (`completeTime`) → the job's `completed_at` (file
stored), overall and per model. Calls per job are createTask + recordInfo + upload requests
counted by the emulator. `--models mixed` sends the jobs round-robin over the catalog's
text-to-image models (the fixed-poll baseline stays on google/nano-banana).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from bench.cluster import KIE_KEY, PG_ADMIN_DSN, Cluster, epoch, submit_jobs
from bench.common import machine, model_mix, result_name, save, summary_ms

from image2ad.models import Job

PROVIDER_CALLS = ("createTask", "recordInfo", "uploadBase64", "uploadStream", "uploadUrl")
FIXED_POLL_S = 5.0


def provider_calls(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    diff = after - before
    return {name: count for name, count in diff.items() if name in PROVIDER_CALLS or count}


def run_phase(cluster: Cluster, jobs: int, rate: float, mix: list[str]) -> dict[str, Any]:
    before = cluster.calls()
    accepted = asyncio.run(submit_jobs(cluster, jobs, models=mix, rate=rate))
    finished = cluster.wait_finished([job_id for job_id, _ in accepted], timeout=300)
    calls = provider_calls(before, cluster.calls())
    tasks = cluster.emulator_tasks()
    per_model = latencies_by_model(finished, tasks)
    counted = sum(v for k, v in calls.items() if k in PROVIDER_CALLS)
    return {
        "jobs": jobs,
        "statuses": dict(Counter(job.status for job in finished)),
        "models": dict(Counter(job.model for job in finished)),
        "latency": summary_ms([s for seconds in per_model.values() for s in seconds]),
        "latency_by_model": {model: summary_ms(seconds) for model, seconds in per_model.items()},
        "breakdown": finish_breakdown(cluster, finished, tasks),
        "calls": calls,
        "calls_per_job": round(counted / jobs, 2),
    }


def latencies_by_model(
    finished: list[Job], tasks: dict[str, dict[str, Any]]
) -> dict[str, list[float]]:
    """Provider done → job completed, in seconds, for each completed job, by its model."""
    per_model: dict[str, list[float]] = defaultdict(list)
    for job in finished:
        if job.status == "completed" and job.completed_at and job.task_id:
            done = tasks[job.task_id]["completeTime"] / 1000
            per_model[job.model].append(epoch(job.completed_at) - done)
    return dict(sorted(per_model.items()))


def finish_breakdown(
    cluster: Cluster, finished: list[Job], tasks: dict[str, dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Where the latency goes, from DBOS's row of each job's finish workflow: provider done →
    finish enqueued (callback, confirmation), → dequeued by a worker (queue poll), → stored."""
    done = {job.id: job for job in finished if job.status == "completed" and job.task_id}
    ids = [f"finish-{job_id}" for job_id in done]
    assert cluster.db is not None
    with cluster.db.session(read_only=True) as session:
        rows = session.execute(
            sa.text(
                "SELECT workflow_uuid, created_at, started_at_epoch_ms FROM dbos.workflow_status"
                " WHERE workflow_uuid = ANY(:ids)"
            ),
            {"ids": ids},
        ).all()
        steps = session.execute(
            sa.text(
                "SELECT workflow_uuid, function_name, started_at_epoch_ms, completed_at_epoch_ms"
                " FROM dbos.operation_outputs WHERE workflow_uuid = ANY(:ids)"
                " ORDER BY workflow_uuid, function_id"
            ),
            {"ids": ids},
        ).all()
    parts: dict[str, list[float]] = {"to_enqueued": [], "queued": [], "to_stored": []}
    started: dict[str, float] = {}
    for workflow_id, created_ms, started_ms in rows:
        job = done[workflow_id.removeprefix("finish-")]
        provider_done = tasks[job.task_id]["completeTime"] / 1000
        if started_ms is None or job.completed_at is None:
            continue
        started[workflow_id] = started_ms / 1000
        parts["to_enqueued"].append(created_ms / 1000 - provider_done)
        parts["queued"].append((started_ms - created_ms) / 1000)
        parts["to_stored"].append(epoch(job.completed_at) - started_ms / 1000)
    # Inside the workflow: each step's own time, and the gap before it (the previous step's
    # checkpoint, or the dequeue's start-up for the first), to the job's completed_at.
    last: dict[str, float] = {}
    for workflow_id, name, step_start, step_end in steps:
        if workflow_id not in started or step_start is None or step_end is None:
            continue
        before = last.get(workflow_id, started[workflow_id])
        parts.setdefault(f"gap_before_{name}", []).append(step_start / 1000 - before)
        parts.setdefault(f"step_{name}", []).append((step_end - step_start) / 1000)
        last[workflow_id] = step_end / 1000
    return {name: summary_ms(values) for name, values in parts.items()}


async def fixed_poll_baseline(cluster: Cluster, count: int, rate: float) -> list[float]:
    """The original edge function: createTask, then recordInfo every 5 s, download on success."""
    headers = {"Authorization": f"Bearer {KIE_KEY}-baseline"}
    out_dir = Path(tempfile.mkdtemp(prefix="fixed-poll-"))
    async with httpx.AsyncClient(base_url=cluster.emulator_url, headers=headers, timeout=60) as kie:

        async def one(n: int) -> float:
            body = {"model": "google/nano-banana", "input": {"prompt": f"bench ad {n}"}}
            reply = (await kie.post("/api/v1/jobs/createTask", json=body)).json()
            task_id = reply["data"]["taskId"]
            # Real generation times vary by more than 5 s, so success lands anywhere in a poll
            # interval; a random phase stands in for that (the emulator's time is fixed).
            await asyncio.sleep(random.uniform(0, FIXED_POLL_S))
            while True:
                await asyncio.sleep(FIXED_POLL_S)
                record = await kie.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})
                data = record.json().get("data")  # None on a 429: poll again next time
                if data and data["state"] == "success":
                    break
            url = data["resultJson"].split('"resultUrls":["', 1)[1].split('"', 1)[0]
            (out_dir / f"{task_id}.png").write_bytes((await kie.get(url)).content)
            return time.time() - data["completeTime"] / 1000

        tasks = []
        for n in range(count):
            tasks.append(asyncio.create_task(one(n)))
            await asyncio.sleep(1 / rate)
        return await asyncio.gather(*tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--rate", type=float, default=2.0, help="job submissions per second")
    parser.add_argument("--baseline-tasks", type=int, default=40)
    parser.add_argument("--image-seconds", type=float, default=15.0)
    parser.add_argument("--poll-schedule", help="IMAGE2AD_JOBS_POLL_SCHEDULE_S for the cluster")
    parser.add_argument("--query-limit", type=int, help="KIE_QUERY_LIMIT per process")
    parser.add_argument("--models", choices=["default", "mixed"], default="default")
    parser.add_argument("--tag", default="", help="suffix of the result file")
    parser.add_argument(
        "--callbacks-only", action="store_true", help="skip the polling and fixed-poll phases"
    )
    args = parser.parse_args()
    mix = model_mix(args.models, "text-to-image")
    env: dict[str, str] = {}
    if args.poll_schedule:
        env["IMAGE2AD_JOBS_POLL_SCHEDULE_S"] = args.poll_schedule
    if args.query_limit:
        # The emulator keeps Kie's 10/s per key; each process gets a share of it.
        env["KIE_QUERY_LIMIT"] = str(args.query_limit)
    # Creates are not what this measures: a limit above the submission rate keeps 429s out.
    emulator = {"image_duration_s": args.image_seconds, "create_limit": 200}
    result: dict[str, Any] = {"machine": machine(PG_ADMIN_DSN), "args": vars(args), "mix": mix}
    with Cluster(shape="pg", emulator=emulator, env=env) as cluster:
        result["callbacks"] = run_phase(cluster, args.jobs, args.rate, mix)
        if args.callbacks_only:
            save(result_name("latency", args.tag, args.models), result)
            return
        cluster.knobs(drop_callbacks=True)
        result["polling_only"] = run_phase(cluster, args.jobs, args.rate, mix)
        before = cluster.calls()
        baseline = asyncio.run(fixed_poll_baseline(cluster, args.baseline_tasks, args.rate))
        calls = provider_calls(before, cluster.calls())
        result["fixed_5s_poll_baseline"] = {
            "tasks": args.baseline_tasks,
            "latency": summary_ms(baseline),
            "calls": calls,
            "calls_per_job": round(
                sum(v for k, v in calls.items() if k in PROVIDER_CALLS) / args.baseline_tasks, 2
            ),
        }
    save(result_name("latency", args.tag, args.models), result)


if __name__ == "__main__":
    main()
