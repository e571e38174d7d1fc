import re
from typing import Any

import httpx
import pytest

from image2ad.providers.emulator import EmulatorSettings
from tests.fixtures.emulator import RunningEmulator, StartEmulator, create_task
from tests.providers.emulator.inputs import INPUTS as DEFAULT_INPUTS
from tests.providers.emulator.inputs import LIVE_INPUTS, REF, create

IMAGE_RATIOS = ["1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9", "auto"]
URL = "https://example.com/ref.png"


def post(client: httpx.Client, body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/jobs/createTask", json=body)
    assert response.status_code == 200
    reply: dict[str, Any] = response.json()
    return reply


@pytest.mark.parametrize("model", list(LIVE_INPUTS))
def test_valid_request_returns_a_32_hex_task_id(shared_kie: httpx.Client, model: str) -> None:
    reply = post(shared_kie, {"model": model, "input": DEFAULT_INPUTS[model]})

    assert reply["code"] == 200
    assert reply["msg"] == "success"
    assert re.fullmatch(r"[0-9a-f]{32}", reply["data"]["taskId"])
    assert reply["data"]["recordId"] and reply["data"]["recordId"] != reply["data"]["taskId"]


@pytest.mark.parametrize(
    ("model", "input_overrides", "field"),
    [
        ("google/nano-banana", {"prompt": "   "}, "prompt"),
        ("google/nano-banana", {"prompt": 42}, "prompt"),
        ("google/nano-banana", {"prompt": "x" * 5001}, "prompt"),
        ("google/nano-banana", {"output_format": "jpg"}, "output_format"),
        ("google/nano-banana", {"aspect_ratio": "7:3"}, "aspect_ratio"),
        ("google/nano-banana", {"aspect_ratio": "landscape"}, "aspect_ratio"),
        ("google/nano-banana", {"image_size": "big"}, "image_size"),
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
        ("sora-2-image-to-video", {"image_urls": [URL, URL]}, "image_urls"),
        ("sora-2-image-to-video", {"n_frames": "25"}, "n_frames"),
        ("nano-banana-2", {"prompt": "x" * 20001}, "prompt"),
        ("nano-banana-2", {"aspect_ratio": "7:5"}, "aspect_ratio"),
        ("nano-banana-2", {"resolution": "8K"}, "resolution"),
        ("nano-banana-2", {"output_format": "jpeg"}, "output_format"),
        ("nano-banana-2", {"image_input": [REF] * 15}, "image_input"),
        ("nano-banana-2", {"image_input": REF}, "image_input"),
        ("nano-banana-2", {"google_search": "yes"}, "google_search"),
        ("nano-banana-pro", {"prompt": "x" * 10001}, "prompt"),
        ("nano-banana-pro", {"image_input": [REF] * 9}, "image_input"),
        ("nano-banana-pro", {"aspect_ratio": "1:4"}, "aspect_ratio"),
        ("nano-banana-pro", {"output_format": "webp"}, "output_format"),
        ("gpt-image-2-text-to-image", {"aspect_ratio": "7:3"}, "aspect_ratio"),
        ("gpt-image-2-text-to-image", {"resolution": "2K"}, "resolution"),  # auto is 1K only
        ("gpt-image-2-text-to-image", {"aspect_ratio": "1:1", "resolution": "4K"}, "resolution"),
        ("gpt-image-2-text-to-image", {"aspect_ratio": "5:4", "resolution": "2K"}, "resolution"),
        (
            "gpt-image-2-text-to-image",
            {"aspect_ratio": "16:9", "resolution": "2K", "background": "opaque"},
            "background",
        ),
        ("gpt-image-2-text-to-image", {"background": "blue"}, "background"),
        ("gpt-image-2-image-to-image", {"input_urls": []}, "input_urls"),
        ("gpt-image-2-image-to-image", {"input_urls": [REF] * 17}, "input_urls"),
        ("gpt-image-2-image-to-image", {"input_urls": REF}, "input_urls"),
        ("seedream/4.5-text-to-image", {"prompt": "x" * 3001}, "prompt"),
        ("seedream/4.5-text-to-image", {"aspect_ratio": "5:4"}, "aspect_ratio"),
        ("seedream/4.5-text-to-image", {"quality": "ultra"}, "quality"),
        ("seedream/4.5-edit", {"image_urls": [REF] * 15}, "image_urls"),
        ("kling-3.0/video", {"duration": 5}, "duration"),
        ("kling-3.0/video", {"duration": "2"}, "duration"),
        ("kling-3.0/video", {"duration": "16"}, "duration"),
        ("kling-3.0/video", {"duration": "5.5"}, "duration"),
        ("kling-3.0/video", {"image_urls": [REF] * 3}, "image_urls"),
        ("kling-3.0/video", {"image_urls": REF}, "image_urls"),
        ("kling-3.0/video", {"mode": "4K"}, "mode"),
        ("kling-3.0/video", {"sound": "on"}, "sound"),
        ("kling-3.0/video", {"aspect_ratio": "4:3"}, "aspect_ratio"),
        ("kling-3.0/video", {"multi_shots": True}, "multi_prompt"),
        (
            "kling-3.0/video",
            {"multi_shots": True, "multi_prompt": [{"prompt": "a", "duration": 12}] * 2},
            "multi_prompt",
        ),
        (
            "kling-3.0/video",
            {"multi_shots": True, "multi_prompt": [{"prompt": "a", "duration": "3"}]},
            "duration",
        ),
        ("kling-3.0/video", {"kling_elements": [{"name": "x"}] * 4}, "kling_elements"),
        ("bytedance/seedance-2-mini", {"prompt": "ab"}, "prompt"),
        ("bytedance/seedance-2-mini", {"duration": "5"}, "duration"),
        ("bytedance/seedance-2-mini", {"duration": 3}, "duration"),
        ("bytedance/seedance-2-mini", {"duration": 16}, "duration"),
        ("bytedance/seedance-2-mini", {"duration": True}, "duration"),
        ("bytedance/seedance-2-mini", {"resolution": "1080p"}, "resolution"),
        ("bytedance/seedance-2-mini", {"aspect_ratio": "2:1"}, "aspect_ratio"),
        ("bytedance/seedance-2-mini", {"generate_audio": 1}, "generate_audio"),
        ("bytedance/seedance-2-mini", {"first_frame_url": [REF]}, "first_frame_url"),
        ("bytedance/seedance-2-mini", {"last_frame_url": REF}, "last_frame_url"),
        ("bytedance/seedance-2-mini", {"reference_image_urls": [REF] * 10}, "reference_image_urls"),
        (
            "bytedance/seedance-2-mini",
            {"first_frame_url": REF, "reference_image_urls": [REF]},
            "reference_image_urls",
        ),
        ("minimax-h3/text-to-video", {"duration": 16}, "duration"),
        ("minimax-h3/text-to-video", {"duration": "5"}, "duration"),
        ("minimax-h3/text-to-video", {"aspect_ratio": "adaptive"}, "aspect_ratio"),
        ("minimax-h3/text-to-video", {"resolution": "1080P"}, "resolution"),
        ("minimax-h3/image-to-video", {"first_frame_url": [REF]}, "first_frame_url"),
        ("minimax-h3/image-to-video", {"last_frame_url": "nope"}, "last_frame_url"),
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
        ("nano-banana-2", {"image_input": [REF] * 14, "aspect_ratio": "1:8"}),
        ("nano-banana-2", {"resolution": "4K", "output_format": "png", "google_search": True}),
        ("nano-banana-pro", {"image_input": [REF] * 8, "resolution": "2K"}),
        ("nano-banana-pro", {"image_input": None, "aspect_ratio": "21:9"}),
        ("gpt-image-2-text-to-image", {"aspect_ratio": "9:21", "background": "transparent"}),
        ("gpt-image-2-text-to-image", {"aspect_ratio": "16:9", "resolution": "4K"}),
        ("gpt-image-2-text-to-image", {"aspect_ratio": "1:1", "resolution": "2K"}),
        ("gpt-image-2-image-to-image", {"input_urls": [REF] * 16}),
        ("seedream/4.5-text-to-image", {"quality": "high", "aspect_ratio": "21:9"}),
        ("seedream/4.5-edit", {"image_urls": [REF] * 14, "nsfw_checker": True}),
        ("kling-3.0/video", {"duration": "3", "image_urls": [REF, REF], "mode": "pro"}),
        ("kling-3.0/video", {"duration": "15", "sound": True, "aspect_ratio": "9:16"}),
        ("kling-3.0/video", {"image_urls": []}),
        (
            "kling-3.0/video",
            {
                "prompt": None,
                "multi_shots": True,
                "multi_prompt": [{"prompt": "a", "duration": 2}, {"prompt": "b", "duration": 1}],
            },
        ),
        ("bytedance/seedance-2-mini", {"duration": 4, "first_frame_url": REF}),
        (
            "bytedance/seedance-2-mini",
            {"duration": 15, "first_frame_url": REF, "last_frame_url": REF, "resolution": "480p"},
        ),
        (
            "bytedance/seedance-2-mini",
            {"reference_image_urls": [REF] * 9, "aspect_ratio": "adaptive"},
        ),
        ("minimax-h3/text-to-video", {"duration": 4, "aspect_ratio": "21:9"}),
        ("minimax-h3/text-to-video", {"duration": 15, "resolution": "2K"}),
        ("minimax-h3/image-to-video", {"last_frame_url": REF, "resolution": "768P"}),
    ],
)
def test_boundary_and_optional_values_are_accepted(
    shared_kie: httpx.Client, model: str, input_overrides: dict[str, Any]
) -> None:
    inp = {**DEFAULT_INPUTS[model], **input_overrides}
    inp = {k: v for k, v in inp.items() if v is not None}

    reply = post(shared_kie, {"model": model, "input": inp})

    assert reply["code"] == 200, reply


@pytest.mark.parametrize(
    ("model", "missing"),
    [
        ("google/nano-banana", "prompt"),
        ("google/nano-banana-edit", "image_urls"),
        ("nano-banana-2", "prompt"),
        ("gpt-image-2-image-to-image", "input_urls"),
        ("seedream/4.5-text-to-image", "aspect_ratio"),
        ("seedream/4.5-text-to-image", "quality"),
        ("seedream/4.5-edit", "image_urls"),
        ("kling-3.0/video", "prompt"),
        ("minimax-h3/text-to-video", "duration"),
        ("minimax-h3/image-to-video", "first_frame_url"),
        ("sora-2-image-to-video", "image_urls"),
    ],
)
def test_missing_required_field_is_500_field_is_required(
    shared_kie: httpx.Client, model: str, missing: str
) -> None:
    inp = {k: v for k, v in DEFAULT_INPUTS[model].items() if k != missing}

    reply = post(shared_kie, {"model": model, "input": inp})

    assert reply == {"code": 500, "msg": f"{missing} is required", "data": None}


@pytest.mark.parametrize("model", list(LIVE_INPUTS))
def test_empty_input_probe_says_prompt_is_required(shared_kie: httpx.Client, model: str) -> None:
    reply = post(shared_kie, {"model": model, "input": {}})

    assert reply == {"code": 500, "msg": "prompt is required", "data": None}


def test_sora_is_paused_by_default_and_creates_no_task(
    kie: httpx.Client, emulator: RunningEmulator
) -> None:
    for model in ("sora-2-text-to-video", "sora-2-image-to-video", "sora-2-pro-text-to-video"):
        for inp in ({}, DEFAULT_INPUTS.get(model, {"prompt": "x"})):
            response = kie.post("/api/v1/jobs/createTask", json={"model": model, "input": inp})

            assert response.status_code == 200
            assert response.json() == {
                "code": 500,
                "msg": "This interface is temporarily paused.",
                "data": None,
            }
    assert emulator.state.tasks == {}


def test_unknown_model_is_422_not_supported(kie: httpx.Client) -> None:
    reply = post(kie, {"model": "veo3_fast", "input": {}})

    assert reply == {
        "code": 422,
        "msg": "The model name you specified is not supported",
        "data": None,
    }


def test_paused_and_maintenance_sets_come_from_knobs(start_emulator: StartEmulator) -> None:
    emu = start_emulator(
        paused_models=frozenset({"nano-banana-2"}),
        maintenance_models=frozenset({"kling-3.0/video"}),
    )
    with emu.client() as client:
        paused = post(client, {"model": "nano-banana-2", "input": {}})
        maintenance = post(client, {"model": "kling-3.0/video", "input": {"prompt": "x"}})
        sora = create_task(client, "sora-2-text-to-video")  # no longer in the paused set
        with emu.admin_client() as admin:
            knobs = admin.post(
                "/_admin/knobs",
                json={"paused_models": ["google/nano-banana"], "maintenance_models": []},
            ).json()["data"]
        repaused = post(client, {"model": "google/nano-banana", "input": {"prompt": "x"}})
        resumed = post(client, {"model": "kling-3.0/video", "input": {"prompt": "x"}})

    assert (paused["code"], paused["msg"]) == (500, "This interface is temporarily paused.")
    assert maintenance["code"] == 455
    assert sora in emu.state.tasks
    assert knobs["paused_models"] == ["google/nano-banana"]
    assert knobs["maintenance_models"] == []
    assert repaused["code"] == 500 and "paused" in repaused["msg"]
    assert resumed["code"] == 200


def test_restore_knobs_brings_back_the_paused_set(emulator: RunningEmulator) -> None:
    saved = emulator.state.knobs()
    emulator.state.settings.paused_models = frozenset()
    emulator.state.restore_knobs(saved)

    assert "sora-2-text-to-video" in emulator.state.settings.paused_models


def test_paused_env_var_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE2AD_EMULATOR_PAUSED_MODELS", " nano-banana-2 , kling-3.0/video ,")

    assert EmulatorSettings().paused_models == {"nano-banana-2", "kling-3.0/video"}
    monkeypatch.setenv("IMAGE2AD_EMULATOR_PAUSED_MODELS", "")
    assert EmulatorSettings().paused_models == frozenset()
    monkeypatch.delenv("IMAGE2AD_EMULATOR_PAUSED_MODELS")
    assert "sora-2-image-to-video" in EmulatorSettings().paused_models


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"input": {"prompt": "x"}}, "model"),
        ({"model": "google/nano-banana"}, "input"),
        ({"model": "google/nano-banana", "input": "a prompt"}, "input"),
        ({"model": "midjourney-v9", "input": {"prompt": "x"}}, "not supported"),
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


def test_callback_urls_are_recorded_in_param(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(paused_models=frozenset())
    body = {
        "model": "sora-2-text-to-video",
        "callBackUrl": "https://example.com/cb",
        "progressCallBackUrl": "https://example.com/progress",
        "input": DEFAULT_INPUTS["sora-2-text-to-video"],
    }

    with emulator.client() as kie:
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
    emulator.state.balance = 100
    create_task(kie, "google/nano-banana")  # 4
    create(kie, "kling-3.0/video", duration="5")  # 12 cr/s x 5 s
    create(kie, "nano-banana-2", resolution="2K")  # 12

    assert kie.get("/api/v1/chat/credit").json() == {"code": 200, "msg": "success", "data": 24}
    hailuo = {"model": "minimax-h3/text-to-video", "input": {"prompt": "x", "duration": 4}}
    reply = post(kie, hailuo)
    assert reply["code"] == 402  # 8 cr/s x 4 s = 32


def test_requests_are_counted_per_endpoint(kie: httpx.Client, emulator: RunningEmulator) -> None:
    create_task(kie)
    post(kie, {"model": "nope", "input": {}})
    kie.get("/api/v1/jobs/recordInfo", params={"taskId": "x"})
    kie.get("/api/v1/chat/credit")

    assert emulator.state.calls["createTask"] == 2
    assert emulator.state.calls["recordInfo"] == 1
    assert emulator.state.calls["credit"] == 1
