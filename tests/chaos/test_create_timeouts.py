"""R14 / P2: createTask reaches Kie but its answer is lost (the client times out).

We must not send it again blindly: the job waits for the orphan task's callback, adopts it, and
completes; the user is charged once and Kie holds exactly one task per job.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from image2ad.db import Database
from image2ad.migrate import upgrade
from tests.fixtures.database import BACKENDS, database_url
from tests.fixtures.emulator import run_emulator
from tests.fixtures.factories import assert_ledger_invariants, create_user
from tests.fixtures.processes import ServerProcess, free_port

JOBS = 8


@pytest.mark.parametrize("backend", BACKENDS)
def test_lost_create_answers_are_adopted_not_resent(backend: str, tmp_path: Path) -> None:
    with (
        database_url(backend, tmp_path) as url,
        run_emulator(image_duration_s=0.5, create_latency_s=2.5, callback_attempts=8) as emulator,
    ):
        upgrade(url)
        db = Database(url)
        user = create_user(db, credits=JOBS)
        port = free_port()
        server = ServerProcess(
            {
                "IMAGE2AD_DATA_DIR": str(tmp_path),
                "IMAGE2AD_DATABASE_URL": url,
                "IMAGE2AD_SECRET_KEY": "timeouts-test-secret",
                "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "IMAGE2AD_JOBS_POLL_SCHEDULE_S": "0.5,1",
                "IMAGE2AD_JOBS_CALLBACK_POLL_SCHEDULE_S": "0.5,1",
                "IMAGE2AD_JOBS_SWEEP_INTERVAL_S": "0.2",
                "IMAGE2AD_JOBS_SUBMIT_GRACE_S": "60",
                "KIE_API_KEY": emulator.api_key,
                "KIE_BASE_URL": emulator.base_url,
                "KIE_UPLOAD_BASE_URL": emulator.base_url,
                "KIE_TIMEOUT_S": "1",
                "IMAGE2AD_DOWNLOAD_HTTP_ORIGINS": emulator.base_url,
            },
            port,
            tmp_path / "server.log",
        )
        server.start()
        try:
            with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as client:
                ids = [
                    client.post(
                        "/api/v1/jobs", json={"type": "text-to-image", "prompt": f"lost answer {n}"}
                    ).json()["id"]
                    for n in range(JOBS)
                ]
                deadline = time.monotonic() + 60
                while True:
                    jobs = [client.get(f"/api/v1/jobs/{job_id}").json() for job_id in ids]
                    if all(j["status"] == "completed" for j in jobs):
                        break
                    assert time.monotonic() < deadline, [(j["status"], j["stage"]) for j in jobs]
                    time.sleep(0.3)
        finally:
            server.stop()
        tasks_per_prompt = Counter(t.input["prompt"] for t in emulator.state.tasks.values())
        assert all(tasks_per_prompt[f"lost answer {n}"] == 1 for n in range(JOBS))
        assert {j["task_id"] for j in jobs} == set(emulator.state.tasks)
        assert "createTask outcome unknown" in (tmp_path / "server.log").read_text()
        assert_ledger_invariants(db, user.id)
        db.dispose()
