"""Scale-out: API and workers as separate processes on PostgreSQL; a worker that dies for good
has its workflows recovered by another one (heartbeats + DBOS recovery)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from image2ad.db import Database
from image2ad.migrate import upgrade
from image2ad.models import WorkerHeartbeat
from tests.fixtures.database import database_url
from tests.fixtures.emulator import RunningEmulator, run_emulator
from tests.fixtures.factories import assert_ledger_invariants, create_user
from tests.fixtures.processes import ServerProcess, free_port

pytestmark = pytest.mark.postgres
JOBS = 12


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], Database, RunningEmulator]]:
    with (
        database_url("postgres", tmp_path) as url,
        run_emulator(image_duration_s=0.5, callback_attempts=8, callback_backoff_s=0.5) as emu,
    ):
        upgrade(url)
        db = Database(url)
        env = {
            "IMAGE2AD_DATA_DIR": str(tmp_path),
            "IMAGE2AD_DATABASE_URL": url,
            "IMAGE2AD_SECRET_KEY": "cluster-test-secret-key",
            "IMAGE2AD_JOBS_POLL_SCHEDULE_S": "0.5,1",
            "IMAGE2AD_JOBS_CALLBACK_POLL_SCHEDULE_S": "0.5,1",
            "IMAGE2AD_JOBS_SWEEP_INTERVAL_S": "0.2",
            "IMAGE2AD_JOBS_HEARTBEAT_S": "0.5",
            "IMAGE2AD_JOBS_EXECUTOR_DEAD_AFTER_S": "3",
            "KIE_API_KEY": emu.api_key,
            "KIE_BASE_URL": emu.base_url,
            "KIE_UPLOAD_BASE_URL": emu.base_url,
            "IMAGE2AD_DOWNLOAD_HTTP_ORIGINS": emu.base_url,
        }
        try:
            yield env, db, emu
        finally:
            db.dispose()


def test_a_dead_workers_jobs_are_finished_by_another_worker(
    cluster_env: tuple[dict[str, str], Database, RunningEmulator], tmp_path: Path
) -> None:
    env, db, _ = cluster_env
    user = create_user(db, credits=JOBS)
    api_port = free_port()
    env = {**env, "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{api_port}"}
    api = ServerProcess(
        {**env, "IMAGE2AD_EXECUTOR_ID": "api-1"},
        api_port,
        tmp_path / "api.log",
        "serve",
        "--no-worker",
        "--port",
        str(api_port),
    )
    doomed = ServerProcess(
        {**env, "IMAGE2AD_EXECUTOR_ID": "worker-a", "IMAGE2AD_FAULT": "P4:3"},
        0,
        tmp_path / "worker-a.log",
        "worker",
    )
    survivor = ServerProcess(
        {**env, "IMAGE2AD_EXECUTOR_ID": "worker-b"}, 0, tmp_path / "worker-b.log", "worker"
    )
    api.start()
    doomed.start(wait=False)
    try:
        with httpx.Client(base_url=api.base_url, headers=user.headers, timeout=10) as client:
            ids = [
                client.post(
                    "/api/v1/jobs", json={"type": "text-to-image", "prompt": f"ad {n}"}
                ).json()["id"]
                for n in range(JOBS)
            ]
            assert doomed.wait_exit(timeout=60) is not None, "worker-a never reached P4"
            survivor.start(wait=False)
            deadline = time.monotonic() + 90
            while True:
                jobs = [client.get(f"/api/v1/jobs/{job_id}").json() for job_id in ids]
                if all(j["status"] in ("completed", "failed") for j in jobs):
                    break
                assert time.monotonic() < deadline, [(j["status"], j["stage"]) for j in jobs]
                time.sleep(0.3)
        # Before the stops below: a gracefully stopped worker removes its own row.
        with db.session(read_only=True) as session:
            alive = set(session.scalars(sa.select(WorkerHeartbeat.executor_id)))
    finally:
        for process in (survivor, doomed, api):
            process.stop()
    assert [j["status"] for j in jobs] == ["completed"] * JOBS
    assert_ledger_invariants(db, user.id)
    assert "worker-a" not in alive and "worker-b" in alive
    assert "recovered" in (tmp_path / "worker-b.log").read_text()
