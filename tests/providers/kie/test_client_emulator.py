"""KieClient over real HTTP against the Kie emulator (tests/fixtures/emulator.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from image2ad.providers import errors
from image2ad.providers.base import TaskRecord, TaskState
from image2ad.providers.kie import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    KieClient,
    extract_task_id,
    verify_signature,
)
from image2ad.providers.kie.schemas import CallbackBody
from tests.fixtures.emulator import CallbackSink, RunningEmulator

StartEmulator = Callable[..., RunningEmulator]
ORDER = [TaskState.WAITING, TaskState.QUEUING, TaskState.GENERATING, TaskState.SUCCESS]
NANO = "google/nano-banana"
KLING = "kling-3.0/video"
SORA = "sora-2-text-to-video"


@pytest.fixture
async def kie(emulator: RunningEmulator) -> AsyncIterator[KieClient]:
    async with connect(emulator) as client:
        yield client


def connect(emulator: RunningEmulator, api_key: str | None = None, **overrides: float) -> KieClient:
    options = {"timeout_s": 5.0, "max_retries": 2, "backoff_base_s": 0.02, "backoff_max_s": 0.1}
    options.update(overrides)
    return KieClient(
        api_key or emulator.api_key,
        emulator.base_url,
        emulator.base_url,
        **options,  # type: ignore[arg-type]
    )


async def fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(url)


async def walk(client: KieClient, task_id: str, timeout_s: float = 5.0) -> list[TaskRecord]:
    records = [await client.record_info(task_id)]
    deadline = time.monotonic() + timeout_s
    while not records[-1].state.is_terminal:
        assert time.monotonic() < deadline, f"task stuck in {records[-1].state}"
        await asyncio.sleep(0.03)
        records.append(await client.record_info(task_id))
    return records


async def test_create_then_walk_to_success(kie: KieClient, emulator: RunningEmulator) -> None:
    task_id = await kie.create_task(
        NANO, {"prompt": "a red bicycle", "aspect_ratio": "16:9", "output_format": "png"}
    )
    records = await walk(kie, task_id)
    states = [r.state for r in records]
    assert states == sorted(states, key=ORDER.index), "states never move back"
    assert {TaskState.WAITING, TaskState.GENERATING, TaskState.SUCCESS} <= set(states)
    done = records[-1]
    assert done.task_id == task_id and done.model == NANO
    assert len(done.result_urls) == 1 and done.result_urls[0].startswith(emulator.base_url)
    assert done.fail_code is None and done.fail_message is None
    assert done.param is not None and done.param["input"]["prompt"] == "a red bicycle"
    assert done.create_time_ms is not None and done.complete_time_ms is not None
    assert done.credits_consumed == 4
    image = await fetch(done.result_urls[0])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


async def test_sora_reports_progress_and_passes_callback_urls(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    # Only Sora reports progress; Kie paused it, so this emulator runs it again.
    emulator = start_emulator(paused_models=frozenset())
    async with connect(emulator) as kie:
        task_id = await kie.create_task(
            SORA,
            {"prompt": "waves", "aspect_ratio": "portrait", "n_frames": "10"},
            callback_url=callback_sink.url("/cb"),
            progress_callback_url=callback_sink.url("/progress"),
        )
        records = await walk(kie, task_id)
    assert all(r.progress is not None for r in records)
    assert records[-1].progress == 100 and records[-1].state is TaskState.SUCCESS
    param = records[-1].param
    assert param is not None
    assert param["callBackUrl"] == callback_sink.url("/cb")
    assert param["progressCallBackUrl"] == callback_sink.url("/progress")


async def test_failed_task_reports_code_and_message(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(failure_rate=1.0)
    async with connect(emulator) as client:
        records = await walk(client, await client.create_task(NANO, {"prompt": "x"}))
    failed = records[-1]
    assert failed.state is TaskState.FAIL
    assert failed.fail_code == "500" and failed.fail_message == "Internal server error"
    assert failed.result_urls == []


async def test_unknown_task_is_not_found(kie: KieClient, emulator: RunningEmulator) -> None:
    with pytest.raises(errors.ProviderTaskNotFound, match="recordInfo is null"):
        await kie.record_info("no-such-task")
    assert emulator.state.calls["recordInfo"] == 1


@pytest.mark.parametrize("http_status", [200, 401])
async def test_bad_key_is_an_auth_error_everywhere(
    start_emulator: StartEmulator, http_status: int
) -> None:
    emulator = start_emulator(unauthenticated_http_status=http_status)
    async with connect(emulator, api_key="wrong-key") as client:
        calls = [
            client.create_task(NANO, {"prompt": "x"}),
            client.record_info("t1"),
            client.credit(),
            client.download_url(emulator.base_url + "/files/t1/x.png"),
            client.upload_file(b"x", file_name="a.png", upload_path="p", content_type="image/png"),
        ]
        for call in calls:
            with pytest.raises(errors.ProviderAuthError, match="access permissions") as caught:
                await call
            assert caught.value.provider_code == 401
    assert sum(emulator.state.calls.values()) == len(calls), "auth errors are not retried"
    assert emulator.state.tasks == {}


@pytest.mark.parametrize(
    ("input_", "field", "code"),
    [
        # Kie answers a missing field with body code 500 naming it (kie-models.md §2).
        ({}, "prompt is required", 500),
        ({"aspect_ratio": "16:9"}, "prompt is required", 500),
        ({"prompt": "x", "aspect_ratio": "7:3"}, "input.aspect_ratio", 422),
        ({"prompt": "x", "output_format": "jpg"}, "input.output_format", 422),
        ({"prompt": "x" * 5001}, "input.prompt", 422),
    ],
)
async def test_invalid_input_names_the_field(
    kie: KieClient, emulator: RunningEmulator, input_: dict[str, str], field: str, code: int
) -> None:
    with pytest.raises(errors.ProviderValidationError, match=field) as caught:
        await kie.create_task(NANO, input_)
    assert caught.value.provider_code == code
    assert emulator.state.calls["createTask"] == 1
    assert emulator.state.tasks == {}


async def test_paused_model_fails_fast_and_a_live_one_refuses_empty_input(
    start_emulator: StartEmulator,
) -> None:
    # The app's availability probe: createTask with an empty input creates nothing either way.
    emulator = start_emulator(paused_models=frozenset({SORA}))
    async with connect(emulator, max_retries=3) as client:
        with pytest.raises(errors.ProviderModelUnavailable, match="temporarily paused") as paused:
            await client.create_task(SORA, {"prompt": "waves"})
        assert paused.value.kind == "paused" and paused.value.provider_code == 500
        assert emulator.state.calls["createTask"] == 1, "a paused model is not retried"
        with pytest.raises(errors.ProviderValidationError, match="prompt is required") as live:
            await client.create_task(KLING, {})
        assert live.value.provider_code == 500
    assert emulator.state.calls["createTask"] == 2
    assert emulator.state.tasks == {}


@pytest.mark.parametrize(
    ("model", "kind", "message"),
    [
        ("google/nano-banana-9", "unknown", "model name you specified is not supported"),
        (KLING, "disabled", "currently disabled"),
        ("bytedance/seedance-2-mini", "maintenance", "under maintenance"),
        (SORA, "paused", "temporarily paused"),
    ],
)
async def test_unavailable_models_are_refused_once_with_their_kind(
    start_emulator: StartEmulator, model: str, kind: str, message: str
) -> None:
    emulator = start_emulator(
        withdrawn_models=frozenset({KLING}),
        maintenance_models=frozenset({"bytedance/seedance-2-mini"}),
    )
    async with connect(emulator, max_retries=3) as client:
        with pytest.raises(errors.ProviderModelUnavailable, match=message) as caught:
            await client.create_task(model, {"prompt": "a calm sea at dawn"})
    assert caught.value.kind == kind
    assert not caught.value.retryable
    assert emulator.state.calls["createTask"] == 1
    assert emulator.state.tasks == {}


async def test_out_of_credits(kie: KieClient, emulator: RunningEmulator) -> None:
    emulator.state.out_of_credits = True
    with pytest.raises(errors.ProviderOutOfCredits, match="Insufficient credits"):
        await kie.create_task(NANO, {"prompt": "x"})
    assert emulator.state.calls["createTask"] == 1


async def test_create_rate_limit_is_retried_without_duplicate_tasks(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(create_limit=2, create_period_s=0.5)
    async with connect(emulator, max_retries=8, backoff_base_s=0.1, backoff_max_s=0.4) as client:
        task_ids = await asyncio.gather(
            *(client.create_task(NANO, {"prompt": f"p{i}"}) for i in range(6))
        )
    calls = emulator.state.calls["createTask"]
    assert calls > 6, "some creates were refused with 429 and re-sent"
    assert len(set(task_ids)) == 6
    assert set(emulator.state.tasks) == set(task_ids), "one task per create_task call"
    prompts = sorted(t.input["prompt"] for t in emulator.state.tasks.values())
    assert prompts == [f"p{i}" for i in range(6)]


async def test_create_rate_limit_surfaces_when_retries_run_out(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(create_limit=1, create_period_s=60)
    async with connect(emulator, max_retries=2) as client:
        first = await client.create_task(NANO, {"prompt": "first"})
        with pytest.raises(errors.ProviderRateLimited, match="Rate limit exceeded") as caught:
            await client.create_task(NANO, {"prompt": "second"})
    assert caught.value.retryable
    assert emulator.state.calls["createTask"] == 1 + 3
    assert list(emulator.state.tasks) == [first]


async def test_create_retries_wait_for_the_pace_hook_first_send_does_not(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(create_limit=1, create_period_s=60)
    paced: list[int] = []

    async def pace() -> None:
        paced.append(emulator.state.calls["createTask"])

    async with connect(emulator, max_retries=2) as client:
        await client.create_task(NANO, {"prompt": "first"}, pace=pace)
        assert paced == []
        with pytest.raises(errors.ProviderRateLimited):
            await client.create_task(NANO, {"prompt": "second"}, pace=pace)
    assert paced == [2, 3], "awaited before each re-send, after the refusal it answers"


async def test_query_rate_limit_is_retried(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(query_limit=2, query_period_s=0.3)
    async with connect(emulator, max_retries=6, backoff_base_s=0.1, backoff_max_s=0.3) as client:
        task_id = await client.create_task(NANO, {"prompt": "x"})
        records = await asyncio.gather(*(client.record_info(task_id) for _ in range(5)))
    assert {r.task_id for r in records} == {task_id}
    assert emulator.state.calls["recordInfo"] > 5


async def test_read_timeout_on_create_is_uncertain_and_not_resent(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(latency_s=0.5)
    async with connect(emulator, timeout_s=0.2) as client:
        with pytest.raises(errors.ProviderSubmitUncertain, match="may exist"):
            await client.create_task(NANO, {"prompt": "slow"})
    await asyncio.sleep(0.6)  # long enough for a re-send to have shown up
    assert emulator.state.calls["createTask"] == 1


async def test_upload_round_trip_feeds_an_edit(kie: KieClient, emulator: RunningEmulator) -> None:
    png = (await fetch(await first_result(kie))).content
    uploaded = await kie.upload_file(
        png, file_name="ref-1.png", upload_path="users/7/refs", content_type="image/png"
    )
    assert uploaded.file_name == "ref-1.png"
    assert uploaded.file_size == len(png) and uploaded.mime_type == "image/png"
    assert uploaded.download_url.endswith("/users/7/refs/ref-1.png")
    assert (await fetch(uploaded.download_url)).content == png
    assert emulator.state.calls["fileStreamUpload"] == 1

    edit = await kie.create_task(
        "google/nano-banana-edit", {"prompt": "make it blue", "image_urls": [uploaded.download_url]}
    )
    assert (await walk(kie, edit))[-1].state is TaskState.SUCCESS


async def first_result(client: KieClient) -> str:
    records = await walk(client, await client.create_task(NANO, {"prompt": "source"}))
    return records[-1].result_urls[0]


async def test_upload_rejection_keeps_the_message(kie: KieClient) -> None:
    with pytest.raises(errors.ProviderValidationError, match="uploadPath"):
        await kie.upload_file(b"x", file_name="a.png", upload_path="a/../b", content_type="x/y")


async def test_credit_follows_the_balance(kie: KieClient, emulator: RunningEmulator) -> None:
    before = await kie.credit()
    assert isinstance(before, float) and before == emulator.state.balance
    await kie.create_task(KLING, {"prompt": "x", "duration": "5"})
    assert await kie.credit() == before - 12 * 5, "Kling 3.0 costs 12 credits a second"


async def test_download_url(kie: KieClient) -> None:
    result_url = await first_result(kie)
    link = await kie.download_url(result_url)
    assert (await fetch(link)).status_code == 200
    with pytest.raises(errors.ProviderValidationError, match="External file URLs"):
        await kie.download_url("https://example.com/cat.png")


async def test_signed_callback_names_a_task_that_record_info_confirms(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emulator = start_emulator(webhook_hmac_key="whsec-123")
    async with connect(emulator) as client:
        task_id = await client.create_task(
            NANO, {"prompt": "x"}, callback_url=callback_sink.url("/kie/job-1")
        )
        (callback,) = await asyncio.to_thread(callback_sink.wait_for, 1)
        confirmed = await client.record_info(task_id)
    assert extract_task_id(callback.json) == task_id
    timestamp = callback.headers[TIMESTAMP_HEADER.lower()]
    signature = callback.headers[SIGNATURE_HEADER.lower()]
    assert verify_signature("whsec-123", task_id, timestamp, signature, max_age_s=60)
    assert not verify_signature("other-key", task_id, timestamp, signature)
    body = CallbackBody.model_validate(callback.json)
    assert body.code == 200 and body.data is not None
    assert body.data.to_task_record().result_urls == confirmed.result_urls
