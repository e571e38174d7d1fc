"""S16: with debug logging on, no API key, callback secret or signing key reaches the logs."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from image2ad.db import Database
from image2ad.logs import scrub
from image2ad.migrate import upgrade
from image2ad.models import Job
from tests.fixtures.emulator import run_emulator
from tests.fixtures.factories import create_user
from tests.fixtures.processes import ServerProcess, free_port

SECRET_KEY = "s16-signing-key-0123456789abcdef"
KIE_KEY = "s16-kie-api-key-fedcba9876543210"


def test_scrub_removes_every_secret_shape() -> None:
    line = (
        "POST /api/v1/callbacks/kie/5f0c/ZmFrZS1zZWNyZXQ HTTP/1.1 Authorization: Bearer abc.def "
        "key=i2a_9c0ffee0123456789 cookie image2ad_session=eyJzIjoxfQ.sig "
        "GET /reset-password?token=Qm9ndXMtcmVzZXQtdG9rZW4 HTTP/1.1"
    )
    cleaned = scrub(line)
    secrets = ("ZmFrZS1zZWNyZXQ", "abc.def", "i2a_9c0ffee0123456789", "eyJzIjoxfQ.sig")
    for secret in (*secrets, "Qm9ndXMtcmVzZXQtdG9rZW4"):
        assert secret not in cleaned
    assert "/callbacks/kie/5f0c/[redacted]" in cleaned


def test_debug_logs_of_a_whole_job_hold_no_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'image2ad.sqlite'}"
    upgrade(url)
    db = Database(url)
    user = create_user(db, credits=2)
    port = free_port()
    log = tmp_path / "server.log"
    # A standalone emulator that accepts only KIE_KEY: the app must send it on every call.
    with run_emulator(api_key=KIE_KEY, image_duration_s=0.3) as kie:
        server = ServerProcess(
            {
                "IMAGE2AD_DATA_DIR": str(tmp_path),
                "IMAGE2AD_LOG_LEVEL": "DEBUG",
                "IMAGE2AD_SECRET_KEY": SECRET_KEY,
                "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "KIE_API_KEY": KIE_KEY,
                "KIE_BASE_URL": kie.base_url,
                "KIE_UPLOAD_BASE_URL": kie.base_url,
                "IMAGE2AD_DOWNLOAD_HTTP_ORIGINS": kie.base_url,
            },
            port,
            log,
        )
        server.start()
        try:
            with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as client:
                job = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "s16"})
                job_id = job.json()["id"]
                deadline = time.monotonic() + 30
                while client.get(f"/api/v1/jobs/{job_id}").json()["status"] != "completed":
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
                client.get("/api/v1/me", headers={"Authorization": "Bearer i2a_wrong-key-000000"})
        finally:
            server.stop()
        assert kie.state.calls["createTask"] == 1 and kie.state.callback_attempts
    with db.session(read_only=True) as session:
        callback_secret = session.scalar(sa.select(Job.callback_secret).where(Job.id == job_id))
    db.dispose()
    text = log.read_text()
    assert "DEBUG" in text and "/callbacks/kie/" in text  # debug output and callbacks happened
    secrets = (user.api_key, str(callback_secret), SECRET_KEY, "i2a_wrong-key-000000", KIE_KEY)
    for secret in secrets:
        assert secret not in text, secret
