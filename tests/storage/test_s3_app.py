"""The real app with IMAGE2AD_STORAGE_URL=s3://… against moto: a text-to-image result lands in
the bucket, and the result endpoints answer with a redirect to a presigned URL.

The app runs as its own process (like the chaos tests): DBOS is one per process, and the
session's `live_app` may already hold it.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from image2ad.db import Database
from image2ad.migrate import upgrade
from tests.fixtures.factories import create_user
from tests.fixtures.processes import ServerProcess, free_port
from tests.fixtures.s3 import MotoS3

TERMINAL = {"completed", "failed", "canceled"}


@dataclass
class S3App:
    server: ServerProcess
    db: Database
    prefix: str

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, headers=headers or {}, timeout=30)


@pytest.fixture(scope="module")
def s3_app(moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3App]:
    tmp: Path = tmp_path_factory.mktemp("s3-app")
    url = f"sqlite:///{tmp / 'app.sqlite'}"
    upgrade(url)
    port = free_port()
    prefix = f"app-{uuid.uuid4().hex[:8]}"
    env = {
        "IMAGE2AD_DATA_DIR": str(tmp),
        "IMAGE2AD_DATABASE_URL": url,
        "IMAGE2AD_STORAGE_URL": moto_s3.url(prefix),
        **moto_s3.env(),
        "IMAGE2AD_SECRET_KEY": "s3-app-test-secret-key",
        "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IMAGE2AD_EXECUTOR_ID": f"s3-app-{prefix}",
        "IMAGE2AD_EMULATOR_IMAGE_DURATION_S": "0.5",
        "IMAGE2AD_JOBS_POLL_SCHEDULE_S": "0.5,1,2",
        "IMAGE2AD_JOBS_SWEEP_INTERVAL_S": "0.2",
        "KIE_API_KEY": "",
    }
    server = ServerProcess(env, port, tmp / "server.log")
    server.start()
    db = Database(url)
    try:
        yield S3App(server, db, prefix)
    finally:
        server.stop()
        db.dispose()


def wait_job(client: httpx.Client, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        if job.get("status") in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.get('status')}/{job.get('stage')}")
        time.sleep(0.05)


def test_results_are_stored_in_the_bucket_and_served_by_redirect(
    s3_app: S3App, moto_s3: MotoS3
) -> None:
    owner, stranger = create_user(s3_app.db), create_user(s3_app.db)
    with s3_app.client(owner.headers) as client:
        assert client.get("/readyz").json()["checks"]["storage"] == "ok"
        created = client.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Blue sneakers, SALE"}
        )
        assert created.status_code == 202, created.text
        done = wait_job(client, created.json()["id"])
        assert done["status"] == "completed", done

        key = f"{s3_app.prefix}/{done['result_path']}"
        assert key in moto_s3.keys(s3_app.prefix)
        stored = moto_s3.client().get_object(Bucket=moto_s3.bucket, Key=key)["Body"].read()

        result = client.get(f"/api/v1/jobs/{done['id']}/result")
        assert result.status_code == 307
        location = result.headers["location"]
        assert location.startswith(f"{moto_s3.endpoint}/{moto_s3.bucket}/{key}?")
        assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location

    direct = httpx.get(location)  # no credentials: the signature is the permission
    assert direct.status_code == 200 and direct.content == stored
    assert direct.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(direct.content)).format == "PNG"

    with s3_app.client() as anonymous:
        signed = anonymous.get(done["result_url"])
        assert signed.status_code == 307
        assert httpx.get(signed.headers["location"]).content == stored

    with s3_app.client(stranger.headers) as other:
        assert other.get(f"/api/v1/jobs/{done['id']}/result").status_code == 404
