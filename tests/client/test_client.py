"""The SDK's blocking Client against the real app served on loopback (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image

from image2ad.client import (
    AuthenticationError,
    Client,
    Conflict,
    InsufficientCredits,
    InvalidInput,
    Job,
    JobFailed,
    NetworkError,
    NotFound,
    RateLimited,
    WaitTimeout,
)
from tests.client.faults import Faults, SyncFaults, is_create, is_events, is_poll
from tests.fixtures.factories import TestUser, assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

PNG = b"\x89PNG\r\n\x1a\n"
STATUSES = ["pending", "processing", "completed"]
STAGES = [None, "queued", "submitting", "waiting", "generating", "downloading", "storing"]


def client(live_app: LiveApp, user: TestUser, faults: Faults | None = None, **kw: float) -> Client:
    transport = SyncFaults(faults) if faults is not None else None
    return Client(live_app.base_url, user.api_key, transport=transport, **kw)  # type: ignore[arg-type]


def result_bytes(live_app: LiveApp, user: TestUser, job_id: str) -> bytes:
    with live_app.client(user) as plain:
        response = plain.get(f"/api/v1/jobs/{job_id}/result")
        assert response.status_code == 200
        return response.content


def assert_moves_forward(updates: list[Job]) -> None:
    """Each update differs from the one before, and none goes back in status, stage or progress."""
    states = [(u.status, u.stage, u.progress) for u in updates]
    assert len(states) == len(set(states)), states
    for before, after in itertools.pairwise(updates):
        assert STATUSES.index(after.status) >= STATUSES.index(before.status), states
        if after.status == before.status == "processing":
            assert STAGES.index(after.stage) >= STAGES.index(before.stage), states
            assert (after.progress or 0) >= (before.progress or 0), states


def test_run_waits_on_the_event_stream_and_download_returns_the_result(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    faults = Faults()
    updates: list[Job] = []
    with client(live_app, user, faults) as sdk:
        job = sdk.run("text-to-image", "Iced tea bottle, SUMMER", on_update=updates.append)
        data = sdk.download(job)
        assert sdk.me().credits == 3 - job.credits_charged

    assert job.status == "completed" and job.result_type == "image"
    assert data.startswith(PNG)
    assert data == result_bytes(live_app, user, job.id)
    assert hashlib.sha256(data).hexdigest() == job.result_sha256
    assert updates[0].status == "pending" and updates[-1] == job
    assert len(updates) >= 3
    assert_moves_forward(updates)
    assert faults.count(is_events) == 1
    assert faults.count(is_poll) == 0  # the stream alone carried the job to its end


def test_image_to_image_uploads_a_path_and_download_to_writes_the_file(
    live_app: LiveApp, tmp_path: Path
) -> None:
    user = live_app.user()
    reference = tmp_path / "can.png"
    Image.new("RGB", (320, 240), (240, 200, 40)).save(reference)
    target = tmp_path / "out" / "ad.png"
    target.parent.mkdir()
    with client(live_app, user) as sdk:
        job = sdk.run("image-to-image", "The can on a beach", image=reference)
        assert sdk.download_to(job, target) == target
        listed = sdk.jobs.list(type="image-to-image")
    assert job.status == "completed" and job.source_upload_id is not None
    assert target.read_bytes() == result_bytes(live_app, user, job.id)
    assert [p.name for p in target.parent.iterdir()] == ["ad.png"]  # no partial file left
    assert [j.id for j in listed.items] == [job.id]


@pytest.mark.parametrize("fault", ["refused", "cut"])
def test_run_polls_when_the_event_stream_fails(live_app: LiveApp, fault: str) -> None:
    user = live_app.user()
    if fault == "refused":
        faults = Faults(refuse=is_events, refuse_status=502)
    else:
        faults = Faults(cut_stream=is_events)
    updates: list[Job] = []
    with client(live_app, user, faults) as sdk:
        job = sdk.run("text-to-image", "Lemonade stand", on_update=updates.append)
        data = sdk.download(job)
    assert job.status == "completed" and data.startswith(PNG)
    assert faults.count(is_events) == 1  # not retried: polling takes over at once
    assert faults.count(is_poll) >= 1
    assert updates[-1] == job
    assert_moves_forward(updates)


def test_api_errors_are_typed(live_app: LiveApp) -> None:
    poor = live_app.user(credits=0)
    with client(live_app, poor) as sdk:
        with pytest.raises(InsufficientCredits) as short:
            sdk.jobs.create("text-to-image", "A yacht")
        assert (short.value.status, short.value.code) == (402, "insufficient_credits")
        assert sdk.jobs.list().items == []

        with pytest.raises(NotFound) as missing:
            sdk.jobs.get(str(uuid.uuid4()))
        assert missing.value.status == 404

        with pytest.raises(InvalidInput) as invalid:
            sdk.jobs.create("text-to-image", "A yacht", sparkle=3)
        assert invalid.value.status == 422 and invalid.value.field == "params.sparkle"

    stranger = Client(live_app.base_url, "i2a_not-a-key")
    with stranger, pytest.raises(AuthenticationError) as denied:
        stranger.me()
    assert denied.value.status == 401


def test_a_failed_job_raises_job_failed_with_the_refunded_job(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    live_app.emulator.out_of_credits = True
    with client(live_app, user) as sdk:
        with pytest.raises(JobFailed) as failed:
            sdk.run("text-to-image", "Running shoes")
        assert sdk.me().credits == 2
    job = failed.value.job
    assert job.status == "failed" and failed.value.code == "provider_out_of_credits"
    assert job.credits_refunded == job.credits_charged == 1


def test_a_create_whose_answer_was_lost_is_retried_once_and_charged_once(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=3)
    prompt = f"Lost answer {uuid.uuid4().hex[:8]}"
    faults = Faults(lose_answer=is_create, times=1)
    with client(live_app, user, faults) as sdk:
        job = sdk.run("text-to-image", prompt)
        matching = sdk.jobs.list(q=prompt).items
        credits = sdk.me().credits

    creates = [r for r in faults.requests if is_create(r)]
    assert len(creates) == 2
    keys = {r.headers.get("Idempotency-Key") for r in creates}
    assert len(keys) == 1 and None not in keys
    first, second = [answer for request, answer in faults.answers if is_create(request)]
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"] == job.id  # the server did create it once
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert [j.id for j in matching] == [job.id]
    assert credits == 3 - job.credits_charged
    assert_ledger_invariants(live_app.db, user.id)


def test_rate_limits_are_waited_out_after_retry_after(live_app: LiveApp) -> None:
    user = live_app.user()
    faults = Faults(
        refuse=lambda r: r.url.path == "/api/v1/me",
        refuse_status=429,
        refuse_headers={"Retry-After": "1"},
        times=1,
    )
    with client(live_app, user, faults) as sdk:
        started = time.monotonic()
        assert sdk.me().id == user.id
        assert time.monotonic() - started >= 1.0
    assert faults.count(lambda r: r.url.path == "/api/v1/me") == 2

    always = Faults(refuse=lambda r: True, refuse_status=429, refuse_headers={"Retry-After": "0"})
    with (
        client(live_app, user, always, max_retries=2) as sdk,
        pytest.raises(RateLimited) as limited,
    ):
        sdk.me()
    assert limited.value.retry_after == 0 and len(always.requests) == 3


def test_a_cancel_whose_answer_was_lost_is_not_sent_again(live_app: LiveApp) -> None:
    user = live_app.user()
    live_app.emulator.settings.image_duration_s = 30
    faults = Faults(lose_answer=lambda r: r.url.path.endswith("/cancel"), times=1)
    with client(live_app, user, faults) as sdk:
        job = sdk.jobs.create("text-to-image", "Slow sunrise")
        with pytest.raises(NetworkError):
            sdk.jobs.cancel(job)
        assert sdk.jobs.get(job).status == "canceled"
    assert faults.count(lambda r: r.url.path.endswith("/cancel")) == 1


def test_jobs_list_pages_cancel_retry_and_delete(live_app: LiveApp) -> None:
    user = live_app.user(credits=6)
    tag = uuid.uuid4().hex[:8]
    live_app.emulator.settings.image_duration_s = 30
    with client(live_app, user) as sdk:
        made = [sdk.jobs.create("text-to-image", f"Poster {tag} {n}") for n in range(3)]
        first = sdk.jobs.list(q=tag, limit=2)
        assert len(first.items) == 2 and first.next_cursor is not None
        assert [j.id for j in sdk.jobs.iter_all(q=tag, page_size=2)] == [
            j.id for j in reversed(made)
        ]

        canceled = sdk.jobs.cancel(made[0])
        assert canceled.status == "canceled" and canceled.credits_refunded == 1
        with pytest.raises(Conflict) as again:
            sdk.jobs.cancel(made[0])
        assert again.value.status == 409

        retried = sdk.jobs.retry(made[0])
        assert retried.id != made[0].id and retried.prompt == made[0].prompt

        sdk.jobs.delete(made[1])
        with pytest.raises(NotFound):
            sdk.jobs.get(made[1])
        # Four jobs charged; made[0] refunded when canceled, made[1] when deleted.
        assert sdk.me().credits == 6 - 4 + 2
    assert_ledger_invariants(live_app.db, user.id)


def test_run_gives_up_after_its_timeout_and_the_job_goes_on(live_app: LiveApp) -> None:
    user = live_app.user()
    live_app.emulator.settings.image_duration_s = 30
    with client(live_app, user) as sdk:
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as waited:
            sdk.run("text-to-image", "Slow sunset", timeout=1.5)
        assert 1.5 <= time.monotonic() - started < 5
        assert not waited.value.job.is_terminal
        assert not sdk.jobs.get(waited.value.job).is_terminal


def test_a_pack_is_created_once_and_read_back(live_app: LiveApp) -> None:
    user = live_app.user(credits=4)
    with client(live_app, user) as sdk:
        pack = sdk.packs.create("text-to-image", "Sneaker drop", ["feed", "story"])
        assert [(j.placement, j.variant) for j in pack.jobs] == [("feed", 1), ("story", 1)]
        done = [sdk.wait(j) for j in pack.jobs]
        again = sdk.packs.get(pack.id)
        listed = sdk.packs.list()
        assert sdk.me().credits == 4 - pack.credits_charged
    assert all(j.status == "completed" for j in done)
    assert again.id == pack.id and again.status == "completed"
    assert [p.id for p in listed.items] == [pack.id]


def test_a_job_can_start_from_an_earlier_job(live_app: LiveApp) -> None:
    user = live_app.user()
    with client(live_app, user) as sdk:
        parent = sdk.run("text-to-image", "A red kettle")
        child = sdk.run("image-to-image", "The kettle in a kitchen", source_job_id=parent.id)
    assert child.status == "completed" and child.parent_job_id == parent.id


def test_httpx_errors_never_escape_untyped(live_app: LiveApp) -> None:
    user = live_app.user()
    nowhere = Client("http://127.0.0.1:9", user.api_key, max_retries=1)
    with nowhere, pytest.raises(NetworkError) as failed:
        nowhere.me()
    assert isinstance(failed.value.__cause__, httpx.ConnectError)
