"""image2ad processes for the operator tests: a real server on SQLite or PostgreSQL, with local
or S3 (moto) storage and the built-in emulator, plus the CLI run as its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.processes import ServerProcess, free_port
from tests.fixtures.s3 import MotoS3

TERMINAL = {"completed", "failed", "canceled"}


def app_env(tmp: Path, database_url: str, s3: MotoS3 | None = None, **extra: str) -> dict[str, str]:
    """Settings shared by the server and the CLI of one test deployment."""
    env = {
        "IMAGE2AD_DATA_DIR": str(tmp),
        "IMAGE2AD_DATABASE_URL": database_url,
        "IMAGE2AD_SECRET_KEY": "ops-test-secret-key",
        "IMAGE2AD_EMULATOR_IMAGE_DURATION_S": "0.5",
        "IMAGE2AD_JOBS_POLL_SCHEDULE_S": "0.5,1,2",
        "IMAGE2AD_JOBS_CALLBACK_POLL_SCHEDULE_S": "0.5,1,2",
        "IMAGE2AD_JOBS_SWEEP_INTERVAL_S": "0.2",
        "KIE_API_KEY": "",
    }
    if s3 is not None:
        env |= {"IMAGE2AD_STORAGE_URL": s3.url(f"ops-{uuid.uuid4().hex[:8]}"), **s3.env()}
    else:
        env["IMAGE2AD_STORAGE_URL"] = (tmp / "files").as_uri()
    return env | extra


def server(env: dict[str, str], tmp: Path, name: str = "server", *args: str) -> ServerProcess:
    port = free_port()
    env = {
        "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IMAGE2AD_EXECUTOR_ID": f"{name}-{uuid.uuid4().hex[:6]}",
        **env,
    }
    return ServerProcess(env, port, tmp / f"{name}.log", *(args or ("serve", "--port", str(port))))


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m image2ad ARGS` with exactly this deployment's settings."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE2AD_", "KIE_"))}
    return subprocess.run(
        [sys.executable, "-m", "image2ad", *args],
        env=full | env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_job(base_url: str, headers: dict[str, str], job_id: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        while True:
            job = client.get(f"/api/v1/jobs/{job_id}").json()
            if job.get("status") in TERMINAL:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job.get('status')}/{job.get('stage')}")
            time.sleep(0.1)
