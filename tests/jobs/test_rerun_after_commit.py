"""A step whose transaction committed but whose checkpoint did not runs again after a crash.

Each case kills a real server process (SIGKILL) right after a step's work is durable and before
DBOS records the step, restarts it, and checks that the re-run recognised its own earlier work:
the job ends once, a completed job's file is there with its recorded size and SHA-256, charged
once, refunded only when it failed. P6 once deleted the paid result of a completed job.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from image2ad.db import Database
from image2ad.migrate import upgrade
from image2ad.models import CreditEntry, Job, UsageEvent
from image2ad.placements import PLACEMENTS
from tests.fixtures.database import BACKENDS, database_url
from tests.fixtures.emulator import RunningEmulator, run_emulator
from tests.fixtures.factories import TestUser, assert_ledger_invariants, create_user
from tests.fixtures.images import image_bytes
from tests.fixtures.processes import ServerProcess, free_port

TERMINAL = {"completed", "failed", "canceled"}
IMAGE_S, VIDEO_S = 0.3, 0.4


@dataclass
class Case:
    point: str
    type: str
    fails: bool = False
    # Set on the job as a pack does: its result is cropped to this placement (C1).
    placement: str | None = None


CASES = [
    Case("P5", "text-to-image"),
    Case("P6", "text-to-image"),
    Case("P6", "text-to-video"),
    Case("V1", "text-to-video"),
    Case("U1", "image-to-image"),
    Case("F", "text-to-image", fails=True),
    Case("C1", "text-to-image", placement="story"),
    Case("C1", "text-to-video", placement="portrait"),
]


@dataclass
class Setup:
    db: Database
    data_dir: Path
    env: dict[str, str]
    emulator: RunningEmulator


@pytest.fixture(scope="module", params=BACKENDS)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp(f"rerun-{request.param}")
    with (
        database_url(request.param, tmp) as url,
        run_emulator(image_duration_s=IMAGE_S, video_duration_s=VIDEO_S) as emulator,
    ):
        upgrade(url)
        db = Database(url)
        env = {
            "IMAGE2AD_DATA_DIR": str(tmp),
            "IMAGE2AD_DATABASE_URL": url,
            "IMAGE2AD_SECRET_KEY": "rerun-test-secret-key",
            "IMAGE2AD_EXECUTOR_ID": f"rerun-{request.param}",
            "IMAGE2AD_JOBS_POLL_SCHEDULE_S": "0.5,1",
            "IMAGE2AD_JOBS_CALLBACK_POLL_SCHEDULE_S": "0.5,1",
            "IMAGE2AD_JOBS_SWEEP_INTERVAL_S": "0.2",
            "KIE_API_KEY": emulator.api_key,
            "KIE_BASE_URL": emulator.base_url,
            "KIE_UPLOAD_BASE_URL": emulator.base_url,
            "IMAGE2AD_DOWNLOAD_HTTP_ORIGINS": emulator.base_url,
        }
        try:
            yield Setup(db, tmp, env, emulator)
        finally:
            db.dispose()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.point}-{c.type}")
def test_a_step_re_run_after_its_commit_keeps_what_it_did(setup: Setup, case: Case) -> None:
    setup.emulator.settings.failure_rate = 1.0 if case.fails else 0.0
    user = create_user(setup.db, credits=3)
    port = free_port()
    log = setup.data_dir / f"server-{case.point}-{case.type}.log"
    server = ServerProcess(
        {**setup.env, "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{port}"}, port, log
    )
    if case.placement is not None:
        # The task ends only once the job has its placement: the check that confirms the
        # outcome plans the finish from the row it reads.
        setup.emulator.settings.image_duration_s = setup.emulator.settings.video_duration_s = 600
    server.start({"IMAGE2AD_FAULT": f"{case.point}:1"})
    try:
        job_id = submit(server, user, case)
        if case.placement is not None:
            with setup.db.session() as session:
                values = {"placement": case.placement}
                session.execute(sa.update(Job).where(Job.id == job_id).values(**values))
            setup.emulator.state.force_success(task_of(setup.db, job_id))
        assert server.wait_exit(timeout=60) is not None, f"{case.point} was never reached"
        server.start()
        job = wait_terminal(server, user, job_id)
        with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as client:
            result = client.get(f"/api/v1/jobs/{job_id}/result", follow_redirects=True)
    finally:
        server.stop()
        setup.emulator.settings.failure_rate = 0.0
        setup.emulator.settings.image_duration_s = IMAGE_S
        setup.emulator.settings.video_duration_s = VIDEO_S

    assert job["status"] == ("failed" if case.fails else "completed"), job
    with setup.db.session(read_only=True) as session:
        row = session.get(Job, job_id)
        entries = session.scalars(sa.select(CreditEntry).where(CreditEntry.job_id == job_id)).all()
        events = session.scalars(sa.select(UsageEvent).where(UsageEvent.job_id == job_id)).all()
    assert row is not None
    kinds = sorted(e.kind for e in entries)
    assert kinds == (["charge", "refund"] if case.fails else ["charge"])
    assert len(events) == 1
    assert_ledger_invariants(setup.db, user.id)
    if case.fails:
        assert result.status_code == 404
        return
    assert result.status_code == 200, result.text
    assert len(result.content) == row.result_size
    assert row.result_sha256 == hashlib.sha256(result.content).hexdigest()
    stored = setup.data_dir / "files" / str(row.result_path)
    assert stored.stat().st_size == row.result_size
    if case.placement is not None:
        assert row.result_width and row.result_height
        assert PLACEMENTS[case.placement].matches(row.result_width, row.result_height)
    if case.type.endswith("video"):
        assert row.poster_path and (setup.data_dir / "files" / row.poster_path).exists()


def submit(server: ServerProcess, user: TestUser, case: Case) -> str:
    with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as client:
        body: dict[str, Any] = {"type": case.type, "prompt": f"re-run at {case.point}"}
        if case.type.startswith("image-to"):
            upload = client.post(
                "/api/v1/uploads", files={"file": ("can.png", image_bytes(size=(320, 240)))}
            )
            assert upload.status_code == 201, upload.text
            body["source_upload_id"] = upload.json()["id"]
        response = client.post("/api/v1/jobs", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])


def task_of(db: Database, job_id: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with db.session(read_only=True) as session:
            task_id = session.scalar(sa.select(Job.task_id).where(Job.id == job_id))
        if task_id:
            return str(task_id)
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got a task id")


def wait_terminal(server: ServerProcess, user: TestUser, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as client:
        while True:
            job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
            if job["status"] in TERMINAL:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['status']}/{job['stage']}")
            time.sleep(0.1)
