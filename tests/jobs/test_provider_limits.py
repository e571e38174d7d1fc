"""Kie's own rate limit refusing creates: jobs wait and finish; nothing is sent twice."""

from __future__ import annotations

from collections import Counter

from image2ad.jobs import repository
from image2ad.providers.emulator.ratelimit import SlidingWindowLimiter
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp


def test_provider_429_on_create_delays_jobs_without_failing_or_duplicating(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=6)
    emulator = live_app.emulator
    # Tighter than the app's own pace (20 per 10 s), so some creates are refused.
    emulator.create_limiter = SlidingWindowLimiter(2, 3.0)
    refused_before = emulator.refusals["createTask"]
    with live_app.client(user) as client:
        ids = [
            client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": f"ad {n}"}).json()[
                "id"
            ]
            for n in range(6)
        ]
        jobs = [live_app.wait_job(client, job_id, timeout=90) for job_id in ids]
    assert emulator.refusals["createTask"] > refused_before, "no create was refused"
    assert [j["status"] for j in jobs] == ["completed"] * 6
    prompts = Counter(t.input["prompt"] for t in emulator.tasks.values())
    assert all(prompts[f"ad {n}"] == 1 for n in range(6))
    assert_ledger_invariants(live_app.db, user.id)


def test_creates_refused_past_every_retry_requeue_the_job_until_kie_accepts(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=1)
    emulator = live_app.emulator
    emulator.create_limiter = SlidingWindowLimiter(0, 60.0)  # every create refused
    refused_before = emulator.refusals["createTask"]
    prompt = f"requeued for {user.id}"

    def attempts(job_id: str) -> int:
        with live_app.db.session(read_only=True) as session:
            job = repository.get(session, job_id)
            assert job is not None
            return job.submit_attempts

    with live_app.client(user) as client:
        job_id = client.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": prompt}
        ).json()["id"]
        wait_until(lambda: attempts(job_id) == 2, timeout=60)
        requeued = client.get(f"/api/v1/jobs/{job_id}").json()
        assert (requeued["status"], requeued["stage"], requeued["task_id"]) == (
            "pending",
            "queued",
            None,
        )
        assert emulator.refusals["createTask"] > refused_before
        assert not [t for t in emulator.tasks.values() if t.input["prompt"] == prompt]
        emulator.create_limiter = SlidingWindowLimiter(10_000, 1.0)
        done = live_app.wait_job(client, job_id, timeout=60)
    assert done["status"] == "completed"
    assert len([t for t in emulator.tasks.values() if t.input["prompt"] == prompt]) == 1
    assert_ledger_invariants(live_app.db, user.id)
