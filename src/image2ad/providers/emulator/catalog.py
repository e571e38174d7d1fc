"""The models the emulator accepts and how each validates its `input` (kie-api.md §5)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

IMAGE_ASPECT_RATIOS = (
    "1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9", "auto",
)  # fmt: skip
VIDEO_ASPECT_RATIOS = ("portrait", "landscape")
OUTPUT_FORMATS = ("png", "jpeg")
N_FRAMES = ("10", "15")
UPLOAD_METHODS = ("s3", "oss")


class InputError(ValueError):
    """The create request breaks the model's input contract; the message names the field."""


Input = Mapping[str, Any]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Literal["image", "video"]
    credits: int
    validate: Callable[[Input], None]

    @property
    def is_video(self) -> bool:
        return self.kind == "video"


def is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _prompt(inp: Input, max_len: int) -> None:
    prompt = inp.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("input.prompt is required")
    if len(prompt) > max_len:
        raise InputError(f"input.prompt must be at most {max_len} characters")


def _choice(inp: Input, field: str, allowed: tuple[str, ...]) -> None:
    if field in inp and inp[field] not in allowed:
        raise InputError(f"input.{field} must be one of: {', '.join(allowed)}")


def _boolean(inp: Input, field: str) -> None:
    if field in inp and not isinstance(inp[field], bool):
        raise InputError(f"input.{field} must be a boolean")


def _image_urls(inp: Input, min_items: int, max_items: int) -> None:
    urls = inp.get("image_urls")
    if urls is None:
        raise InputError("input.image_urls is required")
    if not isinstance(urls, list):
        raise InputError("input.image_urls must be an array of URLs")
    if not min_items <= len(urls) <= max_items:
        count = str(max_items) if min_items == max_items else f"{min_items} to {max_items}"
        raise InputError(f"input.image_urls must contain {count} item(s)")
    if not all(is_http_url(url) for url in urls):
        raise InputError("input.image_urls must contain only http(s) URLs")


def _string_list(inp: Input, field: str, max_items: int) -> None:
    value = inp.get(field)
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"input.{field} must be an array of strings")
    if len(value) > max_items:
        raise InputError(f"input.{field} must contain at most {max_items} items")


def _nano_banana(inp: Input) -> None:
    _prompt(inp, 5000)
    _choice(inp, "output_format", OUTPUT_FORMATS)
    _choice(inp, "aspect_ratio", IMAGE_ASPECT_RATIOS)
    _choice(inp, "image_size", IMAGE_ASPECT_RATIOS)


def _nano_banana_edit(inp: Input) -> None:
    _nano_banana(inp)
    _image_urls(inp, 1, 10)


def _sora_text(inp: Input) -> None:
    _prompt(inp, 10000)
    _choice(inp, "aspect_ratio", VIDEO_ASPECT_RATIOS)
    if "n_frames" in inp and not isinstance(inp["n_frames"], str):
        raise InputError('input.n_frames must be a string: "10" or "15"')
    _choice(inp, "n_frames", N_FRAMES)
    _boolean(inp, "remove_watermark")
    _choice(inp, "upload_method", UPLOAD_METHODS)
    _string_list(inp, "character_id_list", 5)


def _sora_image(inp: Input) -> None:
    _sora_text(inp)
    _image_urls(inp, 1, 1)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("google/nano-banana", "image", 4, _nano_banana),
        ModelSpec("google/nano-banana-edit", "image", 4, _nano_banana_edit),
        ModelSpec("sora-2-text-to-video", "video", 30, _sora_text),
        ModelSpec("sora-2-image-to-video", "video", 30, _sora_image),
    )
}


def image_aspect_ratio(inp: Input) -> str:
    """The requested ratio; `aspect_ratio` wins over the deprecated `image_size`."""
    ratio = inp.get("aspect_ratio") or inp.get("image_size") or "1:1"
    return "1:1" if ratio == "auto" else str(ratio)


def video_aspect_ratio(inp: Input) -> str:
    return "9:16" if inp.get("aspect_ratio") == "portrait" else "16:9"
