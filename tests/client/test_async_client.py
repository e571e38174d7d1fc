"""The SDK's AsyncClient against the real app: the same promises as the blocking Client."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from image2ad.client import AsyncClient, InsufficientCredits, Job, JobFailed, NotFound
from tests.client.faults import AsyncFaults, Faults, is_create, is_events, is_poll
from tests.client.test_client import PNG, assert_moves_forward, result_bytes
from tests.fixtures.factories import TestUser, assert_ledger_invariants
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp


def client(live_app: LiveApp, user: TestUser, faults: Faults | None = None) -> AsyncClient:
    transport = AsyncFaults(faults) if faults is not None else None
    return AsyncClient(live_app.base_url, user.api_key, transport=transport)


async def test_run_and_download(live_app: LiveApp, tmp_path: Path) -> None:
    user = live_app.user(credits=3)
    faults = Faults()
    updates: list[Job] = []

    async def on_update(job: Job) -> None:
        updates.append(job)

    async with client(live_app, user, faults) as sdk:
        job = await sdk.run("text-to-image", "Espresso tonic", on_update=on_update)
        data = await sdk.download(job)
        saved = await sdk.download_to(job, tmp_path / "ad.png")
        assert (await sdk.me()).credits == 3 - job.credits_charged

    assert job.status == "completed" and data.startswith(PNG)
    assert data == result_bytes(live_app, user, job.id) == saved.read_bytes()
    assert hashlib.sha256(data).hexdigest() == job.result_sha256
    assert updates[-1] == job and len(updates) >= 3
    assert_moves_forward(updates)
    assert faults.count(is_events) == 1 and faults.count(is_poll) == 0


async def test_image_to_image_from_bytes(live_app: LiveApp) -> None:
    user = live_app.user()
    async with client(live_app, user) as sdk:
        job = await sdk.run(
            "image-to-image", "On a marble table", image=image_bytes(size=(200, 150))
        )
        assert (await sdk.download(job)).startswith(PNG)
    assert job.source_upload_id is not None


@pytest.mark.parametrize("fault", ["refused", "cut"])
async def test_run_polls_when_the_event_stream_fails(live_app: LiveApp, fault: str) -> None:
    user = live_app.user()
    faults = Faults(refuse=is_events) if fault == "refused" else Faults(cut_stream=is_events)
    updates: list[Job] = []
    async with client(live_app, user, faults) as sdk:
        job = await sdk.run("text-to-image", "Picnic basket", on_update=updates.append)
    assert job.status == "completed" and updates[-1] == job
    assert faults.count(is_events) == 1 and faults.count(is_poll) >= 1
    assert_moves_forward(updates)


async def test_a_lost_create_answer_is_retried_with_the_same_key(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    prompt = f"Lost async answer {uuid.uuid4().hex[:8]}"
    faults = Faults(lose_answer=is_create, times=1)
    async with client(live_app, user, faults) as sdk:
        job = await sdk.run("text-to-image", prompt)
        matching = [j.id async for j in sdk.jobs.iter_all(q=prompt)]
        credits = (await sdk.me()).credits
    creates = [r for r in faults.requests if is_create(r)]
    assert len(creates) == 2
    assert len({r.headers["Idempotency-Key"] for r in creates}) == 1
    assert matching == [job.id] and credits == 3 - job.credits_charged
    assert_ledger_invariants(live_app.db, user.id)


async def test_errors_are_typed(live_app: LiveApp) -> None:
    poor = live_app.user(credits=0)
    async with client(live_app, poor) as sdk:
        with pytest.raises(InsufficientCredits):
            await sdk.run("text-to-image", "A yacht")
        with pytest.raises(NotFound):
            await sdk.jobs.cancel(str(uuid.uuid4()))

    user = live_app.user()
    live_app.emulator.out_of_credits = True
    async with client(live_app, user) as sdk:
        with pytest.raises(JobFailed) as failed:
            await sdk.run("text-to-image", "Running shoes")
    assert failed.value.job.status == "failed" and failed.value.job.credits_refunded == 1
