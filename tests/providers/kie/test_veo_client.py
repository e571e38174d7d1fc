"""VeoApi over real HTTP: against the Kie emulator, and against scripted failures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from image2ad.providers import errors
from image2ad.providers.base import TaskApi, TaskRecord, TaskState
from image2ad.providers.emulator.veo import veo_of
from image2ad.providers.kie import KieClient, extract_task_id
from image2ad.providers.kie.callbacks import extract_outcome
from image2ad.providers.kie.veo import VeoApi
from image2ad.providers.kie.veo_schemas import VeoCallbackBody
from tests.fixtures.emulator import CallbackSink, RunningEmulator, StartEmulator

from .conftest import API_KEY, MakeClient, StartServer
from .scripted_server import Reply, envelope, ok

URL = "https://example.com/ref.png"
CREATED = ok({"taskId": "veo_task_1"})
RECORD = {
    "taskId": "veo_task_1",
    "paramJson": '{"model":"veo3_fast","prompt":"p"}',
    "createTime": 1760000000000,
    "completeTime": None,
    "successFlag": 0,
    "errorCode": None,
    "errorMessage": None,
    "fallbackFlag": False,
    "response": None,
}


def connect(emulator: RunningEmulator, api_key: str | None = None) -> KieClient:
    return KieClient(
        api_key or emulator.api_key,
        emulator.base_url,
        emulator.base_url,
        timeout_s=5.0,
        max_retries=2,
        backoff_base_s=0.02,
        backoff_max_s=0.1,
    )


@pytest.fixture
async def kie(emulator: RunningEmulator) -> AsyncIterator[KieClient]:
    async with connect(emulator) as client:
        yield client


async def walk(veo: VeoApi, task_id: str, timeout_s: float = 5.0) -> list[TaskRecord]:
    records = [await veo.record_info(task_id)]
    deadline = time.monotonic() + timeout_s
    while not records[-1].state.is_terminal:
        assert time.monotonic() < deadline, "task never ended"
        await asyncio.sleep(0.03)
        records.append(await veo.record_info(task_id))
    return records


async def test_both_apis_are_task_apis() -> None:
    async with KieClient(API_KEY, "http://kie.test") as client:
        apis: list[TaskApi] = [client, VeoApi(client)]  # mypy checks both against the protocol
        assert all(callable(api.create_task) and callable(api.record_info) for api in apis)


async def test_create_then_walk_to_a_clip(kie: KieClient, emulator: RunningEmulator) -> None:
    veo = VeoApi(kie)
    task_id = await veo.create_task(
        "veo3_fast",
        {"prompt": "a lighthouse at dawn", "imageUrls": [URL], "aspect_ratio": "16:9"},
        progress_callback_url="https://ignored.example/progress",
    )
    records = await walk(veo, task_id)
    assert records[0].state is TaskState.GENERATING
    done = records[-1]
    assert done.state is TaskState.SUCCESS and done.task_id == task_id
    assert done.model == "veo3_fast"
    assert done.fail_code is None and done.fail_message is None
    assert done.credits_consumed is None
    assert done.create_time_ms is not None and done.complete_time_ms is not None
    assert done.complete_time_ms >= done.create_time_ms
    # The body went flat, with no `input` object and no progress URL.
    assert done.param == {
        "prompt": "a lighthouse at dawn",
        "imageUrls": [URL],
        "aspect_ratio": "16:9",
        "model": "veo3_fast",
    }
    [url] = done.result_urls
    async with httpx.AsyncClient() as http:
        clip = await http.get(url)
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize(("flag", "code"), [(2, "500"), (3, "501")])
async def test_failed_tasks_read_as_fail(
    kie: KieClient, emulator: RunningEmulator, flag: int, code: str
) -> None:
    veo = VeoApi(kie)
    task_id = await veo.create_task("veo3", {"prompt": "p"})
    veo_of(emulator.state).force_fail(task_id, flag)
    record = await veo.record_info(task_id)
    assert record.state is TaskState.FAIL
    assert record.fail_code == code and record.fail_message
    assert record.result_urls == []


async def test_unknown_and_foreign_tasks_are_not_found(start_emulator: StartEmulator) -> None:
    emu = start_emulator(api_key=None)
    async with connect(emu, "account-a") as a, connect(emu, "account-b") as b:
        task_id = await VeoApi(a).create_task("veo3_lite", {"prompt": "p"})
        assert (await VeoApi(a).record_info(task_id)).task_id == task_id
        with pytest.raises(errors.ProviderTaskNotFound):
            await VeoApi(b).record_info(task_id)
        with pytest.raises(errors.ProviderTaskNotFound):
            await VeoApi(a).record_info("veo_task_missing")


async def test_rejections_are_mapped_and_sent_once(start_emulator: StartEmulator) -> None:
    emu = start_emulator(paused_models=frozenset({"veo3"}))
    async with connect(emu) as client:
        veo = VeoApi(client)
        with pytest.raises(errors.ProviderValidationError, match="Ratio error"):
            await veo.create_task("veo3_fast", {"prompt": "p", "aspect_ratio": "1:1"})
        with pytest.raises(errors.ProviderModelUnavailable) as paused:
            await veo.create_task("veo3", {"prompt": "p"})
        with pytest.raises(errors.ProviderModelUnavailable) as unknown:
            await veo.create_task("veo2", {"prompt": "p"})
        emu.state.out_of_credits = True
        with pytest.raises(errors.ProviderOutOfCredits):
            await veo.create_task("veo3_lite", {"prompt": "p"})
    assert (paused.value.kind, unknown.value.kind) == ("paused", "unknown")
    assert emu.state.calls["veoGenerate"] == 4
    assert not veo_of(emu.state).tasks


async def test_rate_limit_refusals_are_retried_after_pacing(start_emulator: StartEmulator) -> None:
    emu = start_emulator(create_limit=1, create_period_s=0.3)
    paced: list[float] = []

    async def pace() -> None:
        paced.append(time.monotonic())
        await asyncio.sleep(0.2)

    async with connect(emu) as client:
        veo = VeoApi(client)
        await veo.create_task("veo3_fast", {"prompt": "first"})
        await veo.create_task("veo3_fast", {"prompt": "second"}, pace=pace)
    assert paced, "the re-send waited for the caller's pace"
    assert emu.state.refusals["veoGenerate"] >= 1
    assert len(veo_of(emu.state).tasks) == 2


async def test_full_hd_is_none_while_processing_then_a_url(
    kie: KieClient, emulator: RunningEmulator
) -> None:
    veo_state = veo_of(emulator.state)
    veo_state.full_hd_delay_s = 0.4
    veo = VeoApi(kie)
    task_id = await veo.create_task("veo3_fast", {"prompt": "p"})
    veo_state.force_success(task_id)
    assert await veo.full_hd_url(task_id) is None
    await asyncio.sleep(0.5)
    url = await veo.full_hd_url(task_id)
    assert url is not None and url.startswith(emulator.base_url)
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).headers["content-type"] == "video/mp4"

    portrait = await veo.create_task("veo3_fast", {"prompt": "p", "aspectRatio": "9:16"})
    veo_state.force_success(portrait)
    with pytest.raises(errors.ProviderValidationError, match="16:9"):
        await veo.full_hd_url(portrait)


async def test_callbacks_parse_to_task_id_and_outcome(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(video_duration_s=60)
    async with connect(emu) as client:
        veo = VeoApi(client)
        ok_id = await veo.create_task(
            "veo3_fast", {"prompt": "p"}, callback_url=callback_sink.url("/ok")
        )
        bad_id = await veo.create_task(
            "veo3_fast", {"prompt": "p"}, callback_url=callback_sink.url("/bad")
        )
        veo_of(emu.state).force_success(ok_id)
        veo_of(emu.state).force_fail(bad_id, 2)
        received = await asyncio.to_thread(callback_sink.wait_for, 2)
        record = await veo.record_info(ok_id)
    bodies = {r.path: r.json for r in received}
    assert extract_task_id(bodies["/ok"]) == ok_id
    assert extract_outcome(bodies["/ok"]) is TaskState.SUCCESS
    assert extract_task_id(bodies["/bad"]) == bad_id
    assert extract_outcome(bodies["/bad"]) is TaskState.FAIL
    parsed = VeoCallbackBody.model_validate(bodies["/ok"])
    assert parsed.data is not None and parsed.data.info is not None
    assert parsed.data.info.result_urls == record.result_urls


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ({"code": 200, "data": {"taskId": "t", "state": "success"}}, TaskState.SUCCESS),
        ({"code": 501, "data": {"taskId": "t", "state": "fail"}}, TaskState.FAIL),
        ({"code": 200, "msg": "generating", "data": {"state": "generating"}}, TaskState.GENERATING),
        ({"code": 200, "data": {"taskId": "t", "info": {"resultUrls": ["u"]}}}, TaskState.SUCCESS),
        ({"code": 400, "msg": "flagged", "data": {"taskId": "t"}}, TaskState.FAIL),
        ({"code": 200, "data": {"taskId": "t", "successFlag": 3}}, TaskState.FAIL),
        ({"code": 200, "data": {"taskId": "t"}}, None),
        ({"data": {"taskId": "t", "state": "exploded"}}, None),
        ({}, None),
    ],
)
def test_extract_outcome(body: dict[str, object], outcome: TaskState | None) -> None:
    assert extract_outcome(body) is outcome


# Against a scripted server: what the emulator cannot produce


async def veo_create(make_client: MakeClient, url: str, **overrides: object) -> str:
    return await VeoApi(make_client(url, **overrides)).create_task("veo3_fast", {"prompt": "p"})


@pytest.mark.parametrize(
    "action",
    [
        "stall",
        "reset",
        "hangup",
        Reply(status=502, body="<html>Bad Gateway</html>", content_type="text/html"),
        Reply(status=200, body="<html>ok</html>", content_type="text/html"),
        ok({}),
        Reply(status=503, body={"code": 200, "msg": "success", "data": {"taskId": "t1"}}),
    ],
    ids=lambda a: a if isinstance(a, str) else f"{a.status}-{str(a.body)[:30]}",
)
async def test_generate_uncertain_outcomes_are_sent_once(
    scripted: StartServer, make_client: MakeClient, action: object
) -> None:
    server = await scripted([action, CREATED])  # type: ignore[list-item]
    with pytest.raises(errors.ProviderSubmitUncertain):
        await veo_create(make_client, server.url, timeout_s=0.3)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "refusal", [envelope(429, "Rate limit exceeded", status=429), envelope(429, "slow down")]
)
async def test_generate_retries_explicit_refusals(
    scripted: StartServer, make_client: MakeClient, refusal: Reply
) -> None:
    server = await scripted([refusal, refusal, CREATED])
    assert await veo_create(make_client, server.url) == "veo_task_1"
    assert len(server.requests) == 3


async def test_generate_wire_format(scripted: StartServer, make_client: MakeClient) -> None:
    server = await scripted([envelope(500, "prompt is required"), CREATED])
    veo = VeoApi(make_client(server.url + "/"))
    # Kie's answer to a missing field: a refusal (no task), and no retry fixes the input.
    with pytest.raises(errors.ProviderValidationError, match="prompt is required") as refused:
        await veo.create_task("veo3", {})
    assert refused.value.provider_code == 500
    task_id = await veo.create_task(
        "veo3",
        {"prompt": "p", "imageUrls": [URL], "aspect_ratio": "9:16", "model": "overridden"},
        callback_url="https://me.example/cb?job=1",
        progress_callback_url="https://me.example/progress",
    )
    assert task_id == "veo_task_1"
    request = server.requests[-1]
    assert (request.method, request.target) == ("POST", "/api/v1/veo/generate")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(request.body) == {
        "prompt": "p",
        "imageUrls": [URL],
        "aspect_ratio": "9:16",
        "model": "veo3",
        "callBackUrl": "https://me.example/cb?job=1",
    }
    assert len(server.requests) == 2


async def test_record_info_retries_and_reads_kie_variants(
    scripted: StartServer, make_client: MakeClient
) -> None:
    done = {
        **RECORD,
        "successFlag": "1",
        "completeTime": 1760000059458.0,
        "errorCode": "",
        "paramJson": "{not json",
        "response": {
            "taskId": "veo_task_1",
            "resultUrls": ["https://cdn/x.mp4"],
            "originUrls": None,
        },
    }
    server = await scripted(
        ["reset", envelope(500, "busy"), Reply(body={"message": "x"}), ok(done)]
    )
    record = await VeoApi(make_client(server.url, max_retries=3)).record_info("veo_task_1")
    assert record.state is TaskState.SUCCESS
    assert record.result_urls == ["https://cdn/x.mp4"]
    assert record.complete_time_ms == 1760000059458
    assert record.param is None and record.model == ""
    assert server.requests[-1].target == "/api/v1/veo/record-info?taskId=veo_task_1"


@pytest.mark.parametrize(
    ("data", "state"),
    [
        ({"successFlag": 0}, TaskState.GENERATING),
        ({"successFlag": 2, "errorCode": 400}, TaskState.FAIL),
    ],
)
async def test_record_info_flags(
    scripted: StartServer, make_client: MakeClient, data: dict[str, object], state: TaskState
) -> None:
    server = await scripted([ok({**RECORD, **data})])
    record = await VeoApi(make_client(server.url)).record_info("veo_task_1")
    assert record.state is state and record.model == "veo3_fast"
    assert record.fail_code == ("400" if state is TaskState.FAIL else None)


async def test_record_info_refuses_unknown_flags_and_other_tasks(
    scripted: StartServer, make_client: MakeClient
) -> None:
    server = await scripted([ok({**RECORD, "successFlag": 9})])
    with pytest.raises(errors.ProviderServerError, match="unexpected response shape"):
        await VeoApi(make_client(server.url, max_retries=0)).record_info("veo_task_1")
    server = await scripted([ok(RECORD)])
    with pytest.raises(errors.ProviderServerError, match="asked for task 'other'"):
        await VeoApi(make_client(server.url, max_retries=0)).record_info("other")


async def test_full_hd_pending_only_for_body_500(
    scripted: StartServer, make_client: MakeClient
) -> None:
    server = await scripted(
        [envelope(500, "processing"), "reset", ok({"resultUrl": "https://cdn/hd.mp4"})]
    )
    veo = VeoApi(make_client(server.url))
    assert await veo.full_hd_url("veo_task_1") is None
    assert len(server.requests) == 1, "a pending answer is not retried"
    assert await veo.full_hd_url("veo_task_1", index=0) == "https://cdn/hd.mp4"
    assert server.requests[-1].target == "/api/v1/veo/get-1080p-video?taskId=veo_task_1&index=0"

    server = await scripted([Reply(status=500, body={"code": 500, "msg": "gateway"})])
    with pytest.raises(errors.ProviderServerError):
        await VeoApi(make_client(server.url, max_retries=1)).full_hd_url("veo_task_1")
    assert len(server.requests) == 2
