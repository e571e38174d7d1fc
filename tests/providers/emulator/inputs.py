"""A valid `input` for every model the emulator runs today, and a createTask helper for them."""

from __future__ import annotations

from typing import Any

import httpx

REF = "https://example.com/ref.png"

LIVE_INPUTS: dict[str, dict[str, Any]] = {
    "google/nano-banana": {"prompt": "a red bicycle"},
    "google/nano-banana-edit": {"prompt": "make it blue", "image_urls": [REF]},
    "nano-banana-2": {"prompt": "a sunny beach ad"},
    "nano-banana-pro": {"prompt": "a product shot", "image_input": [REF]},
    "gpt-image-2-text-to-image": {"prompt": "a poster saying SALE"},
    "gpt-image-2-image-to-image": {"prompt": "put it on a table", "input_urls": [REF]},
    "seedream/4.5-text-to-image": {
        "prompt": "a mountain lake",
        "aspect_ratio": "1:1",
        "quality": "basic",
    },
    "seedream/4.5-edit": {
        "prompt": "add snow",
        "aspect_ratio": "16:9",
        "quality": "basic",
        "image_urls": [REF],
    },
    "kling-3.0/video": {"prompt": "waves at dusk"},
    "bytedance/seedance-2-mini": {"prompt": "a cat jumps"},
    "minimax-h3/text-to-video": {"prompt": "city at night", "duration": 5},
    "minimax-h3/image-to-video": {
        "prompt": "the bicycle rides away",
        "first_frame_url": REF,
        "duration": 5,
    },
}
SORA_INPUTS: dict[str, dict[str, Any]] = {
    "sora-2-text-to-video": {"prompt": "waves at dusk", "aspect_ratio": "landscape"},
    "sora-2-image-to-video": {"prompt": "the bicycle rides away", "image_urls": [REF]},
}
INPUTS = {**LIVE_INPUTS, **SORA_INPUTS}


def create_body(model: str, **overrides: Any) -> dict[str, Any]:
    inp = {**INPUTS[model], **overrides}
    return {"model": model, "input": {k: v for k, v in inp.items() if v is not None}}


def create(client: httpx.Client, model: str, **overrides: Any) -> str:
    """createTask with the model's valid input (None overrides drop a field); the task id."""
    reply = client.post("/api/v1/jobs/createTask", json=create_body(model, **overrides)).json()
    assert reply["code"] == 200, reply
    return str(reply["data"]["taskId"])
