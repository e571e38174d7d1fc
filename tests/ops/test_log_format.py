"""Every line a server writes, ours, uvicorn's and DBOS's, has one format with a UTC timestamp."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from image2ad.db import Database
from image2ad.migrate import upgrade
from tests.fixtures.factories import create_user
from tests.ops.servers import app_env, server, wait_job

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+ \S"
)


def test_server_lines_share_one_timestamped_format(tmp_path: Path) -> None:
    env = app_env(tmp_path, f"sqlite:///{tmp_path / 'app.sqlite'}", IMAGE2AD_LOG_LEVEL="DEBUG")
    upgrade(env["IMAGE2AD_DATABASE_URL"])
    db = Database(env["IMAGE2AD_DATABASE_URL"])
    user = create_user(db)
    db.dispose()
    process = server(env, tmp_path)
    process.start()
    try:
        with httpx.Client(base_url=process.base_url, headers=user.headers) as client:
            job = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Logs"})
        assert wait_job(process.base_url, user.headers, job.json()["id"])["status"] == "completed"
    finally:
        process.stop()

    lines = [line for line in process.log.read_text().splitlines() if line.strip()]
    odd = [line for line in lines if not LINE.match(line)]
    assert odd == []
    loggers = {line.split(" ", 3)[2].split(".")[0] for line in lines}
    assert {"dbos", "uvicorn", "image2ad"} <= loggers
