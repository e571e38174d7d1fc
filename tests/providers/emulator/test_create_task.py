import re
from typing import Any

import httpx
import pytest

from tests.fixtures.emulator import DEFAULT_INPUTS, RunningEmulator, StartEmulator, create_task

IMAGE_RATIOS = ["1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9", "auto"]
URL = "https://example.com/ref.png"


def post(client: httpx.Client, body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/jobs/createTask", json=body)
    assert response.status_code == 200
    reply: dict[str, Any] = response.json()
    return reply


@pytest.mark.parametrize("model", list(DEFAULT_INPUTS))
def test_valid_request_returns_a_32_hex_task_id(shared_kie: httpx.Client, model: str) -> None:
    reply = post(shared_kie, {"model": model, "input": DEFAULT_INPUTS[model]})

    assert reply["code"] == 200
    assert reply["msg"] == "success"
    assert re.fullmatch(r"[0-9a-f]{32}", reply["data"]["taskId"])


@pytest.mark.parametrize(
    ("model", "input_overrides", "field"),
    [
        ("google/nano-banana", {"prompt": None}, "prompt"),
        ("google/nano-banana", {"prompt": "   "}, "prompt"),
        ("google/nano-banana", {"prompt": 42}, "prompt"),
        ("google/nano-banana", {"prompt": "x" * 5001}, "prompt"),
        ("google/nano-banana", {"output_format": "jpg"}, "output_format"),
        ("google/nano-banana", {"aspect_ratio": "7:3"}, "aspect_ratio"),
        ("google/nano-banana", {"aspect_ratio": "landscape"}, "aspect_ratio"),
        ("google/nano-banana", {"image_size": "big"}, "image_size"),
        ("google/nano-banana-edit", {"image_urls": None}, "image_urls"),
        ("google/nano-banana-edit", {"image_urls": []}, "image_urls"),
        ("google/nano-banana-edit", {"image_urls": [URL] * 11}, "image_urls"),
        ("google/nano-banana-edit", {"image_urls": URL}, "image_urls"),
        ("google/nano-banana-edit", {"image_urls": ["not a url"]}, "image_urls"),
        ("google/nano-banana-edit", {"prompt": "x" * 5001}, "prompt"),
        ("google/nano-banana-edit", {"output_format": "webp"}, "output_format"),
        ("sora-2-text-to-video", {"prompt": "x" * 10001}, "prompt"),
        ("sora-2-text-to-video", {"aspect_ratio": "16:9"}, "aspect_ratio"),
        ("sora-2-text-to-video", {"n_frames": 10}, "n_frames"),
        ("sora-2-text-to-video", {"n_frames": "20"}, "n_frames"),
        ("sora-2-text-to-video", {"remove_watermark": "yes"}, "remove_watermark"),
        ("sora-2-text-to-video", {"upload_method": "ftp"}, "upload_method"),
        ("sora-2-text-to-video", {"character_id_list": ["a"] * 6}, "character_id_list"),
        ("sora-2-image-to-video", {"image_urls": None}, "image_urls"),
        ("sora-2-image-to-video", {"image_urls": [URL, URL]}, "image_urls"),
        ("sora-2-image-to-video", {"n_frames": "25"}, "n_frames"),
    ],
)
def test_invalid_input_is_422_naming_the_field(
    shared_kie: httpx.Client, model: str, input_overrides: dict[str, Any], field: str
) -> None:
    inp = {**DEFAULT_INPUTS[model], **input_overrides}
    inp = {k: v for k, v in inp.items() if v is not None}

    reply = post(shared_kie, {"model": model, "input": inp})

    assert reply["code"] == 422
    assert field in reply["msg"]


@pytest.mark.parametrize(
    ("model", "input_overrides"),
    [
        ("google/nano-banana", {"prompt": "x" * 5000}),
        ("google/nano-banana", {"output_format": "jpeg"}),
        *[("google/nano-banana", {"aspect_ratio": r}) for r in IMAGE_RATIOS],
        ("google/nano-banana", {"image_size": "16:9"}),
        ("google/nano-banana-edit", {"image_urls": [URL] * 10, "aspect_ratio": "auto"}),
        ("sora-2-text-to-video", {"prompt": "x" * 10000, "n_frames": "15"}),
        ("sora-2-text-to-video", {"aspect_ratio": "portrait", "remove_watermark": True}),
        ("sora-2-image-to-video", {"n_frames": "10", "aspect_ratio": "portrait"}),
    ],
)
def test_boundary_and_optional_values_are_accepted(
    shared_kie: httpx.Client, model: str, input_overrides: dict[str, Any]
) -> None:
    reply = post(
        shared_kie, {"model": model, "input": {**DEFAULT_INPUTS[model], **input_overrides}}
    )

    assert reply["code"] == 200, reply


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"input": {"prompt": "x"}}, "model"),
        ({"model": "google/nano-banana"}, "input"),
        ({"model": "google/nano-banana", "input": "a prompt"}, "input"),
        ({"model": "midjourney-v9", "input": {"prompt": "x"}}, "midjourney-v9"),
        (
            {"model": "google/nano-banana", "input": {"prompt": "x"}, "callBackUrl": "nope"},
            "callBackUrl",
        ),
        (
            {"model": "google/nano-banana", "input": {"prompt": "x"}, "callBackUrl": "http://[::1"},
            "callBackUrl",
        ),
        ([1, 2, 3], "JSON object"),
    ],
)
def test_malformed_requests_are_422(shared_kie: httpx.Client, body: Any, needle: str) -> None:
    reply = post(shared_kie, body)

    assert reply["code"] == 422
    assert needle in reply["msg"]


def test_callback_urls_are_recorded_in_param(kie: httpx.Client, emulator: RunningEmulator) -> None:
    body = {
        "model": "sora-2-text-to-video",
        "callBackUrl": "https://example.com/cb",
        "progressCallBackUrl": "https://example.com/progress",
        "input": DEFAULT_INPUTS["sora-2-text-to-video"],
    }

    task_id = post(kie, body)["data"]["taskId"]

    task = emulator.state.tasks[task_id]
    assert task.callback_url == "https://example.com/cb"
    assert task.progress_callback_url == "https://example.com/progress"


def test_withdrawn_model_is_rejected_with_505(start_emulator: StartEmulator) -> None:
    emu = start_emulator(withdrawn_models=frozenset({"sora-2-text-to-video"}))
    with emu.client() as client:
        rejected = post(client, {"model": "sora-2-text-to-video", "input": {"prompt": "x"}})
        create_task(client, "google/nano-banana")

    assert rejected["code"] == 505
    assert "sora-2-text-to-video" in rejected["msg"]


def test_out_of_credits_switch_answers_402(kie: httpx.Client, emulator: RunningEmulator) -> None:
    emulator.state.out_of_credits = True

    reply = post(kie, {"model": "google/nano-banana", "input": {"prompt": "x"}})

    assert reply["code"] == 402
    assert emulator.state.tasks == {}


def test_balance_pays_per_model_and_402_when_short(
    kie: httpx.Client, emulator: RunningEmulator
) -> None:
    emulator.state.balance = 40
    create_task(kie, "google/nano-banana")
    create_task(kie, "sora-2-text-to-video")

    assert kie.get("/api/v1/chat/credit").json() == {"code": 200, "msg": "success", "data": 6}
    reply = post(kie, {"model": "sora-2-text-to-video", "input": {"prompt": "x"}})
    assert reply["code"] == 402


def test_requests_are_counted_per_endpoint(kie: httpx.Client, emulator: RunningEmulator) -> None:
    create_task(kie)
    post(kie, {"model": "nope", "input": {}})
    kie.get("/api/v1/jobs/recordInfo", params={"taskId": "x"})
    kie.get("/api/v1/chat/credit")

    assert emulator.state.calls["createTask"] == 2
    assert emulator.state.calls["recordInfo"] == 1
    assert emulator.state.calls["credit"] == 1
