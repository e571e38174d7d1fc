"""Kie's own rate limit refusing creates: jobs wait and finish; nothing is sent twice."""

from __future__ import annotations

from collections import Counter

from image2ad.providers.emulator.ratelimit import SlidingWindowLimiter
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp


def test_provider_429_on_create_delays_jobs_without_failing_or_duplicating(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=6)
    emulator = live_app.emulator
    original = emulator.create_limiter
    emulator.create_limiter = SlidingWindowLimiter(2, 1.5)
    try:
        with live_app.client(user) as client:
            ids = [
                client.post(
                    "/api/v1/jobs", json={"type": "text-to-image", "prompt": f"ad {n}"}
                ).json()["id"]
                for n in range(6)
            ]
            jobs = [live_app.wait_job(client, job_id, timeout=60) for job_id in ids]
    finally:
        emulator.create_limiter = original
    assert [j["status"] for j in jobs] == ["completed"] * 6
    prompts = Counter(t.input["prompt"] for t in emulator.tasks.values())
    assert all(prompts[f"ad {n}"] == 1 for n in range(6))
    assert_ledger_invariants(live_app.db, user.id)
