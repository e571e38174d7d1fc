"""The emulator's Veo 3.1 family (kie-models.md §3.3) over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from typing import Any

import av
import httpx
import pytest

from image2ad.providers.emulator.veo import VEO_MODELS, veo_of
from tests.fixtures.emulator import (
    CallbackSink,
    RunningEmulator,
    StartEmulator,
    upload_file,
    wait_until,
)

URL = "https://example.com/ref.png"
HMAC_KEY = "veo-hmac-key"


def generate(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"prompt": "a lighthouse at dawn", "model": "veo3_fast", **fields}
    response = client.post("/api/v1/veo/generate", json=body)
    assert response.status_code == 200
    reply: dict[str, Any] = response.json()
    return reply


def create(client: httpx.Client, **fields: Any) -> str:
    reply = generate(client, **fields)
    assert reply["code"] == 200 and reply["msg"] == "success", reply
    return str(reply["data"]["taskId"])


def record_info(client: httpx.Client, task_id: str) -> dict[str, Any]:
    reply = client.get("/api/v1/veo/record-info", params={"taskId": task_id}).json()
    assert reply["code"] == 200, reply
    data: dict[str, Any] = reply["data"]
    return data


def wait_done(client: httpx.Client, task_id: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    records = [record_info(client, task_id)]
    deadline = time.monotonic() + timeout
    while records[-1]["successFlag"] == 0:
        assert time.monotonic() < deadline, "task never ended"
        time.sleep(0.03)
        records.append(record_info(client, task_id))
    return records


def clip_size(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height


def full_hd(client: httpx.Client, task_id: str, index: int = 0) -> dict[str, Any]:
    response = client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id, "index": index})
    assert response.status_code == 200
    reply: dict[str, Any] = response.json()
    return reply


def test_generate_then_record_info_walks_to_a_playable_clip(emulator: RunningEmulator) -> None:
    before = emulator.state.balance
    with emulator.client() as client:
        task_id = create(
            client, imageUrls=[URL], aspect_ratio="16:9", seeds=12345, enableTranslation=False
        )
        assert emulator.state.balance == before - VEO_MODELS["veo3_fast"]
        records = wait_done(client, task_id)

    first, done = records[0], records[-1]
    assert first["successFlag"] == 0 and first["response"] is None
    assert first["completeTime"] is None
    assert done["successFlag"] == 1
    assert done["taskId"] == task_id
    assert done["errorCode"] is None and done["errorMessage"] is None
    assert done["fallbackFlag"] is False
    assert isinstance(done["createTime"], int) and done["completeTime"] > done["createTime"]
    param = json.loads(done["paramJson"])
    assert param["model"] == "veo3_fast" and param["imageUrls"] == [URL]
    assert param["seeds"] == 12345
    response = done["response"]
    assert response["taskId"] == task_id and response["resolution"] == "720p"
    assert isinstance(response["originUrls"], list)
    [url] = response["resultUrls"]
    assert url.startswith(emulator.base_url + "/files/")
    clip = httpx.get(url)
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    assert clip_size(clip.content) == (640, 360)
    assert emulator.state.balance == before - VEO_MODELS["veo3_fast"], "success stays charged"


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"aspect_ratio": "9:16"}, (360, 640)),
        ({"aspectRatio": "9:16"}, (360, 640)),
        ({"aspectRatio": "Auto"}, (640, 360)),
        ({}, (640, 360)),
    ],
)
def test_aspect_ratio_spellings_and_auto(
    shared_emulator: RunningEmulator, fields: dict[str, Any], size: tuple[int, int]
) -> None:
    with shared_emulator.client() as client:
        task_id = create(client, model="veo3_lite", **fields)
        veo_of(shared_emulator.state).force_success(task_id)
        [url] = record_info(client, task_id)["response"]["resultUrls"]
    assert clip_size(httpx.get(url).content) == size


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"aspect_ratio": "1:1"}, "Ratio error"),
        ({"aspectRatio": "1:1"}, "Ratio error"),
        ({"aspect_ratio": "auto"}, "Ratio error"),
        ({"model": "veo3_turbo"}, "model"),
        ({"model": None}, "model"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"generationType": "IMAGE_2_VIDEO"}, "generationType"),
        ({"generationType": "TEXT_2_VIDEO", "imageUrls": [URL]}, "imageUrls"),
        ({"generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO"}, "imageUrls"),
        ({"generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO", "imageUrls": [URL] * 3}, "imageUrls"),
        ({"generationType": "REFERENCE_2_VIDEO", "imageUrls": [URL], "model": "veo3"}, "veo3_fast"),
        (
            {"generationType": "REFERENCE_2_VIDEO", "imageUrls": [URL], "aspect_ratio": "Auto"},
            "Ratio",
        ),
        ({"generationType": "REFERENCE_2_VIDEO", "imageUrls": [URL] * 4}, "imageUrls"),
        ({"imageUrls": [URL] * 3, "model": "veo3"}, "veo3_fast"),
        ({"imageUrls": ["ftp://example.com/a.png"]}, "imageUrls"),
        ({"imageUrls": URL}, "imageUrls"),
        ({"seeds": 9999}, "seeds"),
        ({"seeds": "12345"}, "seeds"),
        ({"enableTranslation": "yes"}, "enableTranslation"),
        ({"watermark": 1}, "watermark"),
        ({"resolution": "8k"}, "resolution"),
        ({"duration": 5}, "duration"),
        ({"callBackUrl": "not a url"}, "callBackUrl"),
    ],
)
def test_invalid_bodies_are_422_and_create_nothing(
    shared_emulator: RunningEmulator, fields: dict[str, Any], message: str
) -> None:
    tasks = len(veo_of(shared_emulator.state).tasks)
    with shared_emulator.client() as client:
        reply = generate(client, **fields)
    assert reply["code"] == 422 and message in reply["msg"], reply
    assert len(veo_of(shared_emulator.state).tasks) == tasks


@pytest.mark.parametrize(
    "fields",
    [
        {"imageUrls": [URL]},
        {"imageUrls": [URL, URL], "resolution": "1080p", "duration": 6, "watermark": "Brand"},
        {"generationType": "REFERENCE_2_VIDEO", "imageUrls": [URL] * 3, "aspect_ratio": "9:16"},
        {"imageUrls": [URL] * 3, "model": "veo3_lite"},
        {"model": "veo3", "enableFallback": False, "resolution": "4k", "duration": 4},
    ],
)
def test_valid_modes_are_accepted(shared_emulator: RunningEmulator, fields: dict[str, Any]) -> None:
    with shared_emulator.client() as client:
        create(client, **fields)


def test_failures_end_with_flag_2_or_3_and_are_refunded(start_emulator: StartEmulator) -> None:
    emu = start_emulator(failure_rate=1.0, seed=7, video_duration_s=0.1)
    before = emu.state.balance
    with emu.client() as client:
        ids = [create(client, model="veo3") for _ in range(4)]
        records = [wait_done(client, task_id)[-1] for task_id in ids]
    for record in records:
        assert record["successFlag"] in (2, 3)
        assert record["response"] is None
        assert isinstance(record["errorCode"], int) and record["errorMessage"]
        assert record["completeTime"] is not None
    assert emu.state.balance == before


def test_forced_failures_choose_the_flag(emulator: RunningEmulator) -> None:
    veo = veo_of(emulator.state)
    with emulator.client() as client:
        failed, generation_failed = create(client), create(client)
        veo.force_fail(failed, 2, 400, "prompt flagged")
        veo.force_fail(generation_failed, 3)
        a, b = record_info(client, failed), record_info(client, generation_failed)
    assert (a["successFlag"], a["errorCode"], a["errorMessage"]) == (2, 400, "prompt flagged")
    assert (b["successFlag"], b["errorCode"]) == (3, 501)
    with pytest.raises(ValueError, match="already ended"):
        veo.force_success(failed)


def test_success_callback_has_veo_shape_and_signature(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(webhook_hmac_key=HMAC_KEY, video_duration_s=0.1)
    with emu.client() as client:
        task_id = create(client, callBackUrl=callback_sink.url("/veo"), aspect_ratio="9:16")
        [received] = callback_sink.wait_for(1)
        url = record_info(client, task_id)["response"]["resultUrls"][0]

    body = received.json
    assert received.path == "/veo"
    assert body["code"] == 200 and body["msg"] == "Veo3.1 video generated successfully."
    data = body["data"]
    assert data["taskId"] == task_id and data["fallbackFlag"] is False
    assert data["info"]["resultUrls"] == [url]
    assert data["info"]["resolution"] == "720p" and "originUrls" in data["info"]
    assert json.loads(data["promptJson"])["prompt"] == "a lighthouse at dawn"
    timestamp = received.headers["x-webhook-timestamp"]
    digest = hmac.new(HMAC_KEY.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256)
    assert received.headers["x-webhook-signature"] == base64.b64encode(digest.digest()).decode()


def test_failure_callback_carries_a_non_200_code(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(video_duration_s=60)
    with emu.client() as client:
        task_id = create(client, callBackUrl=callback_sink.url())
        veo_of(emu.state).force_fail(task_id, 3)
        [received] = callback_sink.wait_for(1)
    body = received.json
    assert body["code"] == 501 and body["msg"] == "Video generation failed"
    assert body["data"]["taskId"] == task_id and body["data"]["info"] is None


def test_callbacks_are_redelivered_and_honour_the_drop_knob(
    start_emulator: StartEmulator, callback_sink: CallbackSink
) -> None:
    emu = start_emulator(video_duration_s=0.05, callback_attempts=2)
    callback_sink.fail_next(503)
    with emu.client() as client:
        task_id = create(client, callBackUrl=callback_sink.url())
        callback_sink.wait_for(2)
        wait_until(lambda: len(emu.state.callback_attempts) == 2)
        emu.state.drop_callbacks = True
        dropped = create(client, callBackUrl=callback_sink.url())
        wait_until(lambda: dropped in emu.state.dropped_callbacks)
    assert [a.status_code for a in emu.state.callback_attempts] == [503, 200]
    assert {a.task_id for a in emu.state.callback_attempts} == {task_id}


def test_callback_url_must_be_this_services(start_emulator: StartEmulator) -> None:
    emu = start_emulator(callback_prefixes=("http://app.test/api/v1/callbacks/",))
    with emu.client() as client:
        refused = generate(client, callBackUrl="http://169.254.169.254/latest")
        create(client, callBackUrl="http://app.test/api/v1/callbacks/kie/j1/s")
    assert refused["code"] == 422 and "callBackUrl" in refused["msg"]


def test_1080p_is_processing_then_ready(emulator: RunningEmulator) -> None:
    veo = veo_of(emulator.state)
    veo.full_hd_delay_s = 0.5
    with emulator.client() as client:
        task_id = create(client, model="veo3")
        generating = full_hd(client, task_id)
        veo.force_success(task_id)
        processing = full_hd(client, task_id)
        time.sleep(0.6)
        ready = full_hd(client, task_id)
        out_of_range = full_hd(client, task_id, index=1)
    assert generating["code"] == 500 and processing["code"] == 500
    assert "processing" in processing["msg"]
    assert ready["code"] == 200
    clip = httpx.get(ready["data"]["resultUrl"])
    assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
    assert clip_size(clip.content) == (640, 360)
    assert out_of_range["code"] == 422


def test_1080p_url_is_not_served_before_it_is_ready(emulator: RunningEmulator) -> None:
    veo = veo_of(emulator.state)
    veo.full_hd_delay_s = 60
    with emulator.client() as client:
        task_id = create(client)
        veo.force_success(task_id)
    task = veo.tasks[task_id]
    early = httpx.get(task.result_url(emulator.base_url, task.full_hd_name))
    assert early.status_code == 404


def test_1080p_is_refused_for_portrait_and_failed_tasks(emulator: RunningEmulator) -> None:
    veo = veo_of(emulator.state)
    veo.full_hd_delay_s = 0
    with emulator.client() as client:
        portrait = create(client, aspectRatio="9:16")
        failed = create(client)
        veo.force_success(portrait)
        veo.force_fail(failed, 2)
        portrait_reply, failed_reply = full_hd(client, portrait), full_hd(client, failed)
        unknown = full_hd(client, "veo_task_missing")
    assert portrait_reply["code"] == 422 and "16:9" in portrait_reply["msg"]
    assert failed_reply["code"] == 422
    assert unknown["code"] == 422 and unknown["data"] is None


def test_only_the_creating_account_sees_a_task(start_emulator: StartEmulator) -> None:
    emu = start_emulator(api_key=None)
    veo_of(emu.state).full_hd_delay_s = 0
    with emu.client(api_key="account-a") as a, emu.client(api_key="account-b") as b:
        task_id = create(a)
        veo_of(emu.state).force_success(task_id)
        assert record_info(a, task_id)["successFlag"] == 1
        assert full_hd(a, task_id)["code"] == 200
        hidden = b.get("/api/v1/veo/record-info", params={"taskId": task_id}).json()
        hidden_hd = full_hd(b, task_id)
        unknown = a.get("/api/v1/veo/record-info", params={"taskId": "veo_task_x"}).json()
    assert hidden == unknown == {"code": 422, "msg": "recordInfo is null", "data": None}
    assert hidden_hd["code"] == 422 and hidden_hd["data"] is None


def test_auth_limits_credits_and_model_knobs(start_emulator: StartEmulator) -> None:
    emu = start_emulator(
        create_limit=2,
        paused_models=frozenset({"veo3"}),
        withdrawn_models=frozenset({"veo3_lite"}),
    )
    with emu.client() as client, emu.client(api_key="wrong") as stranger:
        unauthorised = generate(stranger)
        paused = generate(client, model="veo3")
        withdrawn = generate(client, model="veo3_lite")
        limited = generate(client)
    assert unauthorised["code"] == 401
    assert paused["code"] == 500 and paused["msg"] == "This interface is temporarily paused."
    assert withdrawn["code"] == 505
    assert limited["code"] == 429, "the Veo generate shares createTask's per-account limit"
    assert not veo_of(emu.state).tasks

    emu = start_emulator()
    emu.state.balance = VEO_MODELS["veo3_fast"] - 1
    with emu.client() as client:
        broke = generate(client)
        emu.state.balance = 1000
        create(client)
    assert broke["code"] == 402
    assert emu.state.balance == 1000 - VEO_MODELS["veo3_fast"]


def test_missing_task_id_is_400(shared_emulator: RunningEmulator) -> None:
    with shared_emulator.client() as client:
        assert client.get("/api/v1/veo/record-info").json()["code"] == 400
        assert client.get("/api/v1/veo/get-1080p-video").json()["code"] == 400


def test_an_expired_upload_fails_the_task(start_emulator: StartEmulator) -> None:
    emu = start_emulator(upload_ttl_s=0.3, video_duration_s=0.05)
    with emu.client() as client:
        stale = upload_file(client, b"\x89PNG stale", "stale.png")
        time.sleep(0.35)
        fresh = upload_file(client, b"\x89PNG fresh", "fresh.png")
        failed = create(client, imageUrls=[fresh, stale])
        fine = create(client, imageUrls=[fresh])
        failed_record, fine_record = wait_done(client, failed)[-1], wait_done(client, fine)[-1]
    assert failed_record["successFlag"] == 3
    assert failed_record["errorMessage"] == f"Failed to download the input file: {stale}"
    assert fine_record["successFlag"] == 1
