"""S1 end to end: Kie reports a success whose result URL points inside; the job fails, the
credit comes back, and nothing connects to the canary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp
from tests.security.servers import Canary


@pytest.fixture
def canary() -> Iterator[Canary]:
    canary = Canary()
    yield canary
    assert canary.close() == 0


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:{canary}",
        "http://169.254.169.254/latest",
        "https://tempfile.aiquickdraw.com.evil.example",
    ],
)
def test_hostile_result_url_fails_the_job_and_refunds(
    base: str, live_app: LiveApp, canary: Canary
) -> None:
    user = live_app.user(credits=2)
    emulator = live_app.emulator
    original = emulator.public_url
    emulator.public_url = base.format(canary=canary.port)
    try:
        with live_app.client(user) as client:
            job = client.post(
                "/api/v1/jobs", json={"type": "text-to-image", "prompt": "a red bicycle"}
            ).json()
            done = live_app.wait_job(client, job["id"])
            credits = client.get("/api/v1/me").json()["credits"]
    finally:
        emulator.public_url = original
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "result_unavailable"
    assert credits == 2
    assert canary.hits == 0
    assert_ledger_invariants(live_app.db, user.id)
