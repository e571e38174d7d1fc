"""Many more concurrent requests than pooled connections and threads: all answered, none 5xx.

A request must never hold a pooled connection while it waits for a threadpool slot. When one
did (a session handed out by a yield-dependency, closed in a later threadpool call), 300 status
reads/s wedged the server: every thread waited for a connection and every connection for a
thread, until the pool timed out with 500s (bench.load, docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from image2ad.db import Database
from image2ad.migrate import upgrade
from tests.fixtures.database import BACKENDS, database_url
from tests.fixtures.factories import create_user
from tests.fixtures.processes import ServerProcess, free_port

# The server's threadpool has 40 slots (anyio's default): go well past it.
CONCURRENT = 160


async def read_all(base_url: str, headers: dict[str, str], paths: list[str]) -> list[int]:
    limits = httpx.Limits(max_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits) as client:
        replies = await asyncio.gather(
            *(client.get(path, timeout=60) for path in paths), return_exceptions=True
        )
    return [r.status_code if isinstance(r, httpx.Response) else -1 for r in replies]


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_reads_on_a_one_connection_pool_all_succeed(
    backend: str, tmp_path: Path
) -> None:
    with database_url(backend, tmp_path) as url:
        upgrade(url)
        db = Database(url)
        user = create_user(db, credits=3)
        server = ServerProcess(
            {
                "IMAGE2AD_DATA_DIR": str(tmp_path),
                "IMAGE2AD_DATABASE_URL": url,
                "IMAGE2AD_SECRET_KEY": "concurrency-test-signing-key-0123",
                "IMAGE2AD_DB_POOL_SIZE": "1",
                "IMAGE2AD_DB_MAX_OVERFLOW": "0",
                "IMAGE2AD_API_RATE_LIMIT": "100000/minute",
                "IMAGE2AD_EMULATOR_IMAGE_DURATION_S": "0.3",
            },
            free_port(),
            tmp_path / "server.log",
        )
        server.start()
        try:
            with httpx.Client(base_url=server.base_url, headers=user.headers) as client:
                body = {"type": "text-to-image", "prompt": "pool test"}
                job_id = client.post("/api/v1/jobs", json=body, timeout=30).json()["id"]
            paths = [f"/api/v1/jobs/{job_id}", "/api/v1/jobs?limit=5", "/api/v1/me"]
            wanted = [paths[n % len(paths)] for n in range(CONCURRENT)]
            statuses = asyncio.run(read_all(server.base_url, user.headers, wanted))
        finally:
            server.stop()
            db.dispose()
        assert statuses == [200] * CONCURRENT, sorted(set(statuses))
