"""R1: kill -9 a real server process at each crash point, restart it, check every promise.

The Kie emulator runs in the test process, so provider state survives the kills. Each point
gets 50 text-to-image jobs; the emulator fails ~20 % of tasks so refunds are exercised too.
Set IMAGE2AD_CHAOS_REPORT=path.jsonl to collect the figures for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from image2ad.db import Database
from image2ad.migrate import upgrade
from image2ad.models import CreditEntry, Job
from tests.fixtures.database import BACKENDS, database_url
from tests.fixtures.emulator import RunningEmulator, run_emulator
from tests.fixtures.factories import TestUser, assert_ledger_invariants, create_user
from tests.fixtures.processes import ServerProcess, free_port

JOBS = 50
# Which hit of the point kills the process: late enough that work is in flight around it.
KILL_AT = {"P1": 12, "P2": 12, "P3": 12, "P4": 12, "P5": 12, "P6": 12, "F": 3}
TERMINAL = {"completed", "failed", "canceled"}


@dataclass
class ChaosRun:
    backend: str
    point: str
    jobs: int
    completed: int
    failed: int
    failed_not_by_provider: int
    lost: int
    double_charged: int
    double_refunded: int
    orphan_provider_tasks: int
    results_without_job: int
    seconds: float


@dataclass
class Harness:
    backend: str
    db: Database
    data_dir: Path
    emulator: RunningEmulator
    env: dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def harness(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    tmp = tmp_path_factory.mktemp(f"chaos-{request.param}")
    with (
        database_url(request.param, tmp) as url,
        run_emulator(
            failure_rate=0.2,
            seed=7,
            image_duration_s=0.5,
            callback_attempts=8,
            callback_backoff_s=0.5,
        ) as emulator,
    ):
        upgrade(url)
        db = Database(url)
        env = {
            "IMAGE2AD_DATA_DIR": str(tmp),
            "IMAGE2AD_DATABASE_URL": url,
            "IMAGE2AD_SECRET_KEY": "chaos-test-secret-key",
            "IMAGE2AD_EXECUTOR_ID": f"chaos-{request.param}",
            "IMAGE2AD_JOBS_POLL_SCHEDULE_S": "0.5,1,2",
            "IMAGE2AD_JOBS_CALLBACK_POLL_SCHEDULE_S": "0.5,1,2",
            "IMAGE2AD_JOBS_SWEEP_INTERVAL_S": "0.2",
            "IMAGE2AD_JOBS_SUBMIT_GRACE_S": "4",
            "IMAGE2AD_JOB_RATE_LIMIT": "10000/minute",
            "IMAGE2AD_MAX_ACTIVE_JOBS": "1000",
            "KIE_API_KEY": emulator.api_key,
            "KIE_BASE_URL": emulator.base_url,
            "KIE_UPLOAD_BASE_URL": emulator.base_url,
            "IMAGE2AD_DOWNLOAD_HTTP_ORIGINS": emulator.base_url,
        }
        try:
            yield Harness(request.param, db, tmp, emulator, env)
        finally:
            db.dispose()


@pytest.mark.parametrize("point", list(KILL_AT))
def test_kill_at_crash_point_loses_nothing(harness: Harness, point: str) -> None:
    started = time.monotonic()
    user = create_user(harness.db, credits=JOBS)
    port = free_port()
    server = ServerProcess(
        {**harness.env, "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{port}"},
        port,
        harness.data_dir / f"server-{point}.log",
    )
    server.start({"IMAGE2AD_FAULT": f"{point}:{KILL_AT[point]}"})
    try:
        pending = submit_all(server, user, point, set(range(JOBS)))
        assert server.wait_exit(timeout=60) is not None, f"{point} was never reached"
        server.start()
        pending = submit_all(server, user, point, pending)
        assert not pending
        jobs = wait_all_terminal(server, user, timeout=120)
    finally:
        server.stop()
    run = check_promises(harness, user, point, jobs, time.monotonic() - started)
    report(run)
    assert (
        run.lost,
        run.double_charged,
        run.double_refunded,
        run.results_without_job,
        run.failed_not_by_provider,
    ) == (0, 0, 0, 0, 0), run


def submit_all(server: ServerProcess, user: TestUser, point: str, todo: set[int]) -> set[int]:
    """POST each job with its own Idempotency-Key; what the dead server missed stays to do."""
    left = set(todo)
    with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as client:
        for n in sorted(todo):
            try:
                response = client.post(
                    "/api/v1/jobs",
                    json={"type": "text-to-image", "prompt": f"chaos {point} ad #{n}"},
                    headers={"Idempotency-Key": f"{point}-{n}"},
                )
            except httpx.TransportError:
                if not server.alive():
                    break
                continue
            assert response.status_code == 202, response.text
            left.discard(n)
    return left


def wait_all_terminal(
    server: ServerProcess, user: TestUser, timeout: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as client:
        while True:
            jobs = client.get("/api/v1/jobs", params={"limit": 100}).json()["items"]
            if len(jobs) == JOBS and all(j["status"] in TERMINAL for j in jobs):
                return list(jobs)
            if time.monotonic() > deadline:
                stuck = [
                    (j["id"], j["status"], j["stage"]) for j in jobs if j["status"] not in TERMINAL
                ]
                raise AssertionError(f"{len(jobs)} jobs, not terminal: {stuck[:5]}")
            time.sleep(0.3)


def check_promises(
    harness: Harness, user: TestUser, point: str, jobs: list[dict[str, Any]], seconds: float
) -> ChaosRun:
    assert_ledger_invariants(harness.db, user.id)
    with harness.db.session(read_only=True) as session:
        rows = session.scalars(sa.select(Job).where(Job.user_id == user.id)).all()
        entries = session.scalars(
            sa.select(CreditEntry).where(
                CreditEntry.user_id == user.id, CreditEntry.job_id.is_not(None)
            )
        ).all()
    charges: dict[str, int] = {}
    refunds: dict[str, int] = {}
    for entry in entries:
        target = charges if entry.kind == "charge" else refunds
        target[str(entry.job_id)] = target.get(str(entry.job_id), 0) + 1
    by_id = {job.id: job for job in rows}
    ours = {
        task_id: task
        for task_id, task in harness.emulator.state.tasks.items()
        if task.callback_url and any(f"/callbacks/kie/{j}/" in task.callback_url for j in by_id)
    }
    adopted = {job.task_id for job in rows}
    results_dir = harness.data_dir / "files" / "results" / user.id
    stored = (
        {str(p.relative_to(harness.data_dir / "files")) for p in results_dir.rglob("*.*")}
        if results_dir.exists()
        else set()
    )
    completed_paths = {job.result_path for job in rows if job.status == "completed"}
    return ChaosRun(
        backend=harness.backend,
        point=point,
        jobs=len(rows),
        completed=sum(job.status == "completed" for job in rows),
        failed=sum(job.status == "failed" for job in rows),
        failed_not_by_provider=sum(
            job.status == "failed" and not (job.error_code or "").startswith("provider_failed")
            for job in rows
        ),
        lost=JOBS - sum(job.status in TERMINAL for job in rows),
        double_charged=sum(count > 1 for count in charges.values()),
        double_refunded=sum(count > 1 for count in refunds.values()),
        orphan_provider_tasks=len(set(ours) - adopted),
        results_without_job=len({p for p in stored if not p.endswith(".part")} - completed_paths),
        seconds=round(seconds, 1),
    )


def report(run: ChaosRun) -> None:
    path = os.environ.get("IMAGE2AD_CHAOS_REPORT")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(asdict(run)) + "\n")
