"""SIGTERM drains a worker: it takes no new work, lets a running step finish (or hands it over
when the grace is up) and exits 0; nothing is lost, sent twice or charged twice.

Real processes: an API process and workers on SQLite, the emulator over HTTP. createTask
answers are held back a few seconds, so a submit step is surely running when the signal lands.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from image2ad.db import Database
from image2ad.jobs import stuck
from image2ad.migrate import upgrade
from tests.fixtures.emulator import RunningEmulator, run_emulator
from tests.fixtures.factories import TestUser, assert_ledger_invariants, create_user
from tests.fixtures.processes import ServerProcess
from tests.ops.servers import app_env, cli, server, wait_job


@dataclass
class Deployment:
    tmp: Path
    env: dict[str, str]
    db: Database
    emulator: RunningEmulator
    api: ServerProcess
    user: TestUser

    def worker(self, name: str, **extra: str) -> ServerProcess:
        process = server(self.env | {"IMAGE2AD_EXECUTOR_ID": name, **extra}, self.tmp, name)
        process.args = ("worker",)
        process.start(wait=False)
        wait_until(lambda: name in self.heartbeats() or not process.alive(), 60)
        assert process.alive(), process.log.read_text()
        return process

    def heartbeats(self) -> set[str]:
        return {line.split("\t")[0] for line in self.workers_list()[1:]}

    def workers_list(self) -> list[str]:
        result = cli(self.env, "workers", "list")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()

    def submit(self) -> str:
        with httpx.Client(base_url=self.api.base_url, headers=self.user.headers) as client:
            reply = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Drain"})
        assert reply.status_code == 202, reply.text
        return str(reply.json()["id"])


def submit_workflows(db: Database, job_id: str) -> list[stuck.WorkflowState]:
    flows = stuck.job_workflows(db, [job_id])[job_id]
    return [w for w in flows if w.workflow_id.startswith("submit-")]


def wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    upgrade(url)
    with run_emulator(image_duration_s=0.5, create_latency_s=3.0, callback_attempts=8) as emu:
        env = app_env(
            tmp_path,
            url,
            KIE_API_KEY=emu.api_key,
            KIE_BASE_URL=emu.base_url,
            KIE_UPLOAD_BASE_URL=emu.base_url,
            IMAGE2AD_DOWNLOAD_HTTP_ORIGINS=emu.base_url,
            IMAGE2AD_JOBS_HEARTBEAT_S="0.5",
            IMAGE2AD_JOBS_SUBMIT_GRACE_S="5",
        )
        db = Database(url)
        api = server(env | {"IMAGE2AD_EXECUTOR_ID": "api-1"}, tmp_path, "api-1")
        api.args = ("serve", "--no-worker", "--port", str(api.port))
        env["IMAGE2AD_PUBLIC_URL"] = api.env["IMAGE2AD_PUBLIC_URL"]
        api.start()
        try:
            yield Deployment(tmp_path, env, db, emu, api, create_user(db))
        finally:
            api.stop()
            db.dispose()


def test_sigterm_lets_the_running_step_finish_then_exits_0(deployment: Deployment) -> None:
    d = deployment
    worker = d.worker("worker-1", IMAGE2AD_SHUTDOWN_GRACE_S="60")
    job_id = d.submit()
    wait_until(lambda: len(d.emulator.state.tasks) == 1, 30)  # createTask sent, answer held

    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait_exit(60) == 0, worker.log.read_text()

    (submit,) = submit_workflows(d.db, job_id)
    assert submit.status == "SUCCESS"  # finished during the drain, not left for a takeover
    assert "worker-1" not in d.heartbeats()  # left cleanly: nothing to take over
    log = worker.log.read_text()
    assert "stopping: taking no new work" in log and "handing them over" not in log

    other = d.worker("worker-2")
    try:
        assert wait_job(d.api.base_url, d.user.headers, job_id)["status"] == "completed"
    finally:
        other.stop()
    assert len(d.emulator.state.tasks) == 1
    assert_ledger_invariants(d.db, d.user.id)

    assert "api-1" in d.heartbeats()  # API processes beat too
    assert d.api.proc is not None
    d.api.proc.send_signal(signal.SIGTERM)
    assert d.api.wait_exit(60) == 0, d.api.log.read_text()
    assert "api-1" not in d.heartbeats()


def test_sigterm_hands_an_unfinished_step_over_after_the_grace(deployment: Deployment) -> None:
    d = deployment
    worker = d.worker("worker-1", IMAGE2AD_SHUTDOWN_GRACE_S="0")
    job_id = d.submit()
    wait_until(lambda: len(d.emulator.state.tasks) == 1, 30)

    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait_exit(60) == 0, worker.log.read_text()
    assert "handing them over" in worker.log.read_text()
    (row,) = [line for line in d.workers_list() if line.startswith("worker-1\t")]
    assert row.endswith("\thanded-over")
    (submit,) = submit_workflows(d.db, job_id)
    assert submit.status == "PENDING" and submit.executor_id == "worker-1"
    listed = cli(d.env, "jobs", "stuck")
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith(job_id)]
    assert "=PENDING@worker-1(handed-over)" in row

    other = d.worker("worker-2")
    try:
        assert wait_job(d.api.base_url, d.user.headers, job_id)["status"] == "completed"
    finally:
        other.stop()
    assert "taking over executor worker-1" in other.log.read_text()
    assert "worker-1" not in d.heartbeats()
    assert_ledger_invariants(d.db, d.user.id)
