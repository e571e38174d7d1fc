"""kill -9 between a job's end and its webhook (W1: the delivery is committed with the job, no
workflow started yet; W2: the POST was answered, the attempt not yet recorded): after a
restart the event arrives, every time with the one event id (receivers dedupe on it)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from image2ad.db import Database
from image2ad.migrate import upgrade
from image2ad.models import WebhookDelivery, WebhookEvent
from tests.fixtures.database import BACKENDS, database_url
from tests.fixtures.factories import assert_ledger_invariants, create_user
from tests.fixtures.processes import ServerProcess, free_port
from tests.webhooks.helpers import add_endpoint, wait_deliveries
from tests.webhooks.receiver import receiver


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("point", ["W1", "W2"])
def test_a_kill_between_the_job_and_its_webhook_still_delivers_one_event_id(
    backend: str, point: str, tmp_path: Path
) -> None:
    kill_log = tmp_path / "kills.jsonl"
    with database_url(backend, tmp_path) as url, receiver() as hook:
        upgrade(url)
        db = Database(url)
        user = create_user(db, credits=3)
        port = free_port()
        env = {
            "IMAGE2AD_DATA_DIR": str(tmp_path),
            "IMAGE2AD_DATABASE_URL": url,
            "IMAGE2AD_SECRET_KEY": "webhook-crash-test-secret-key",
            "IMAGE2AD_EXECUTOR_ID": "webhook-crash",
            "IMAGE2AD_EMULATOR_IMAGE_DURATION_S": "0.5",
            "IMAGE2AD_JOBS_SWEEP_INTERVAL_S": "0.2",
            "IMAGE2AD_WEBHOOKS_ALLOW_PRIVATE": "1",
            "IMAGE2AD_WEBHOOKS_RETRY_DELAYS_S": "0.5,1",
            "IMAGE2AD_FAULT_LOG": str(kill_log),
            "IMAGE2AD_SHUTDOWN_GRACE_S": "0",
        }
        server = ServerProcess(env, port, tmp_path / "serve.log")
        server.start({"IMAGE2AD_FAULT": f"{point}:1"})
        try:
            with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as c:
                endpoint = add_endpoint(c, hook.url, ["job.completed"])
                job = c.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "ad"})
                assert job.status_code == 202, job.text
                assert server.wait_exit(60) == -9, "the server never reached " + point
            (kill,) = [json.loads(line) for line in kill_log.read_text().splitlines()]
            assert kill["point"] == point
            delivered_before = len(hook.requests)
            assert delivered_before == (1 if point == "W2" else 0)
            server.start()
            with httpx.Client(base_url=server.base_url, headers=user.headers, timeout=10) as c:
                (logged,) = wait_deliveries(
                    c, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
                )
                finished = c.get(f"/api/v1/jobs/{job.json()['id']}").json()
            received = hook.wait_for(delivered_before + 1)
            # Nothing more arrives once the delivery is recorded.
            time.sleep(1.0)
            assert len(hook.requests) == len(received)
        finally:
            server.stop()
        with db.session(read_only=True) as session:
            events = list(session.scalars(sa.select(WebhookEvent.id)))
            chains = session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery))
        assert_ledger_invariants(db, user.id)
        db.dispose()
    assert finished["status"] == "completed"
    assert len(events) == 1 and chains == 1
    assert {r.headers["webhook-id"] for r in received} == {events[0]} == {logged["event_id"]}
    assert logged["attempts"] == 1
