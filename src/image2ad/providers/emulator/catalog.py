"""The models the emulator accepts, how each validates its `input`, and what each costs.

Field names, enums and limits follow kie-models.md §3.1/§3.2 (late 2026); the two older models
and Sora 2 follow kie-api.md §5. A missing required field answers body code 500
"`<field>` is required", as Kie does (kie-models.md §2, sources Z and M); any other bad value
answers 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

IMAGE_ASPECT_RATIOS = (
    "1:1", "9:16", "16:9", "3:4", "4:3", "3:2", "2:3", "5:4", "4:5", "21:9", "auto",
)  # fmt: skip
NB2_ASPECT_RATIOS = (
    "auto", "1:1", "1:4", "4:1", "1:8", "8:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4",
    "9:16", "16:9", "21:9",
)  # fmt: skip
GPT_IMAGE_ASPECT_RATIOS = (
    "auto", "1:1", "3:2", "2:3", "4:3", "3:4", "5:4", "4:5", "16:9", "9:16", "2:1", "1:2",
    "3:1", "1:3", "21:9", "9:21",
)  # fmt: skip
GPT_IMAGE_1K_ONLY_RATIOS = ("5:4", "4:5", "3:1", "1:3", "9:21")
SEEDREAM_ASPECT_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "2:3", "3:2", "21:9")
RESOLUTIONS = ("1K", "2K", "4K")
KLING_ASPECT_RATIOS = ("16:9", "9:16", "1:1")
SEEDANCE_ASPECT_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "21:9", "adaptive")
HAILUO_ASPECT_RATIOS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
VIDEO_ASPECT_RATIOS = ("portrait", "landscape")
OUTPUT_FORMATS = ("png", "jpeg")
N_FRAMES = ("10", "15")
UPLOAD_METHODS = ("s3", "oss")

SORA_MODELS = (
    "sora-2-text-to-video",
    "sora-2-image-to-video",
    "sora-2-pro-text-to-video",
    "sora-2-pro-image-to-video",
)
"""Paused on Kie since June 2026 (kie-models.md §2, source M); the emulator's default."""

URL_FIELDS = (
    "image_urls",
    "input_urls",
    "image_input",
    "first_frame_url",
    "last_frame_url",
    "reference_image_urls",
    "reference_video_urls",
    "reference_audio_urls",
)
"""Input fields that carry file URLs Kie fetches when the task runs."""


class InputError(ValueError):
    """The create request breaks the model's input contract; the message names the field."""

    code = 422


class MissingField(InputError):
    """A required field is absent: Kie answers body code 500 for this (kie-models.md §2)."""

    code = 500

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is required")


Input = Mapping[str, Any]


@dataclass(frozen=True)
class Price:
    """Credits for one run, and the line `/api/v1/models/{model}/price` shows."""

    describe: str
    credits: Callable[[Input], float]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Literal["image", "video"]
    validate: Callable[[Input], None]
    title: str
    provider: str
    task_types: tuple[str, ...]
    description: str | None = None
    seconds: Callable[[Input], int] = field(default=lambda inp: 0)
    """The clip length a video request asks for, in seconds."""

    @property
    def is_video(self) -> bool:
        return self.kind == "video"

    @property
    def price(self) -> Price:
        return PRICES[self.name]

    def credits_for(self, inp: Input) -> float:
        return round(self.price.credits(inp), 2)

    @property
    def credits(self) -> float:
        """The price at the model's default parameters."""
        return self.credits_for({})

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-").replace(".", "-")


def is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- field checks ---------------------------------------------------------------------------


def _present(inp: Input, name: str) -> bool:
    return inp.get(name) is not None


def _require(inp: Input, name: str) -> None:
    if not _present(inp, name):
        raise MissingField(name)


def _prompt(inp: Input, max_len: int, *, min_len: int = 1, required: bool = True) -> None:
    if required:
        _require(inp, "prompt")
    elif not _present(inp, "prompt"):
        return
    prompt = inp["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("input.prompt must be a non-empty string")
    if len(prompt) > max_len:
        raise InputError(f"input.prompt must be at most {max_len} characters")
    if len(prompt) < min_len:
        raise InputError(f"input.prompt must be at least {min_len} characters")


def _choice(inp: Input, name: str, allowed: tuple[str, ...], *, required: bool = False) -> None:
    if required:
        _require(inp, name)
    if name in inp and inp[name] not in allowed:
        raise InputError(f"input.{name} must be one of: {', '.join(allowed)}")


def _boolean(inp: Input, *names: str) -> None:
    for name in names:
        if name in inp and not isinstance(inp[name], bool):
            raise InputError(f"input.{name} must be a boolean")


def _integer(inp: Input, name: str, low: int, high: int, *, required: bool = False) -> None:
    if required:
        _require(inp, name)
    if name not in inp:
        return
    value = inp[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"input.{name} must be an integer from {low} to {high}")
    if not low <= value <= high:
        raise InputError(f"input.{name} must be an integer from {low} to {high}")


def _string_integer(inp: Input, name: str, low: int, high: int) -> None:
    """An integer sent as a string, as Kling's `duration` "3".."15" (kie-models.md §3.2)."""
    if name not in inp:
        return
    value = inp[name]
    if not isinstance(value, str) or not value.isdigit() or not low <= int(value) <= high:
        raise InputError(f'input.{name} must be a string from "{low}" to "{high}"')


def _url(inp: Input, name: str, *, required: bool = False) -> None:
    """A single URL string, as Seedance's and Hailuo's `first_frame_url`."""
    if required:
        _require(inp, name)
    if _present(inp, name) and not is_http_url(inp[name]):
        raise InputError(f"input.{name} must be one http(s) URL string")


def _urls(
    inp: Input, name: str, max_items: int, *, min_items: int = 0, required: bool = False
) -> None:
    if required:
        _require(inp, name)
    urls = inp.get(name)
    if urls is None:
        return
    if not isinstance(urls, list):
        raise InputError(f"input.{name} must be an array of URLs")
    if not min_items <= len(urls) <= max_items:
        count = str(max_items) if min_items == max_items else f"{min_items} to {max_items}"
        raise InputError(f"input.{name} must contain {count} item(s)")
    if not all(is_http_url(url) for url in urls):
        raise InputError(f"input.{name} must contain only http(s) URLs")


def _image_urls(inp: Input, min_items: int, max_items: int) -> None:
    _urls(inp, "image_urls", max_items, min_items=min_items, required=True)


def _string_list(inp: Input, name: str, max_items: int) -> None:
    value = inp.get(name)
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"input.{name} must be an array of strings")
    if len(value) > max_items:
        raise InputError(f"input.{name} must contain at most {max_items} items")


# --- images (kie-models.md §3.1) ---------------------------------------------------------


def _nano_banana(inp: Input) -> None:
    _prompt(inp, 5000)
    _choice(inp, "output_format", OUTPUT_FORMATS)
    _choice(inp, "aspect_ratio", IMAGE_ASPECT_RATIOS)
    _choice(inp, "image_size", IMAGE_ASPECT_RATIOS)
    _boolean(inp, "nsfw_checker")


def _nano_banana_edit(inp: Input) -> None:
    _nano_banana(inp)
    _image_urls(inp, 1, 10)


def _nano_banana_2(inp: Input) -> None:
    _prompt(inp, 20000)
    _urls(inp, "image_input", 14)
    _choice(inp, "aspect_ratio", NB2_ASPECT_RATIOS)
    _choice(inp, "resolution", RESOLUTIONS)
    _choice(inp, "output_format", ("jpg", "png"))
    _boolean(inp, "google_search")


def _nano_banana_pro(inp: Input) -> None:
    _prompt(inp, 10000)
    _urls(inp, "image_input", 8)
    _choice(inp, "aspect_ratio", IMAGE_ASPECT_RATIOS)
    _choice(inp, "resolution", RESOLUTIONS)
    _choice(inp, "output_format", ("png", "jpg"))


def _gpt_image_2(inp: Input) -> None:
    _prompt(inp, 20000)
    _choice(inp, "aspect_ratio", GPT_IMAGE_ASPECT_RATIOS)
    _choice(inp, "resolution", RESOLUTIONS)
    _choice(inp, "background", ("transparent", "opaque", "auto"))
    ratio, resolution = inp.get("aspect_ratio", "auto"), inp.get("resolution", "1K")
    # The size rules of kie-models.md §3.1 (P): auto and the tall/wide extremes are 1K only,
    # 1:1 stops at 2K, and a background choice exists only at 1K.
    if resolution != "1K" and (ratio == "auto" or ratio in GPT_IMAGE_1K_ONLY_RATIOS):
        raise InputError(f"input.resolution {resolution} is not available for {ratio}")
    if resolution == "4K" and ratio == "1:1":
        raise InputError("input.resolution 4K is not available for 1:1")
    if resolution != "1K" and "background" in inp:
        raise InputError("input.background is only available at resolution 1K")


def _gpt_image_2_edit(inp: Input) -> None:
    _gpt_image_2(inp)
    _urls(inp, "input_urls", 16, min_items=1, required=True)


def _seedream_45(inp: Input) -> None:
    _prompt(inp, 3000)
    _choice(inp, "aspect_ratio", SEEDREAM_ASPECT_RATIOS, required=True)
    _choice(inp, "quality", ("basic", "high"), required=True)
    _boolean(inp, "nsfw_checker")


def _seedream_45_edit(inp: Input) -> None:
    _seedream_45(inp)
    _image_urls(inp, 1, 14)


# --- videos (kie-models.md §3.2) ---------------------------------------------------------


def _kling_shots(inp: Input) -> None:
    shots = inp.get("multi_prompt")
    if not isinstance(shots, list) or not 1 <= len(shots) <= 5:
        raise InputError("input.multi_prompt must be an array of 1 to 5 shots")
    total = 0
    for shot in shots:
        if not isinstance(shot, dict):
            raise InputError("input.multi_prompt items must be objects")
        _prompt(shot, 500)
        _integer(shot, "duration", 1, 12, required=True)
        total += shot["duration"]
    if not 3 <= total <= 15:
        raise InputError("input.multi_prompt durations must add up to 3 to 15 seconds")


def _kling_elements(inp: Input) -> None:
    elements = inp.get("kling_elements")
    if elements is None:
        return
    if not isinstance(elements, list) or len(elements) > 3:
        raise InputError("input.kling_elements must be an array of at most 3 elements")
    for element in elements:
        if not isinstance(element, dict) or not isinstance(element.get("name"), str):
            raise InputError("input.kling_elements items need a name")
        _urls(element, "element_input_urls", 4, min_items=1, required=True)


def _kling_3(inp: Input) -> None:
    _boolean(inp, "multi_shots", "sound")
    if inp.get("multi_shots") is True:
        _kling_shots(inp)
        _prompt(inp, 5000, required=False)
    else:
        _prompt(inp, 5000)
    _choice(inp, "aspect_ratio", KLING_ASPECT_RATIOS)
    _choice(inp, "mode", ("std", "pro"))
    _string_integer(inp, "duration", 3, 15)
    _urls(inp, "image_urls", 2)
    _kling_elements(inp)


def _seedance_mini(inp: Input) -> None:
    _prompt(inp, 20000, min_len=3)
    _integer(inp, "duration", 4, 15)
    _choice(inp, "resolution", ("480p", "720p"))
    _choice(inp, "aspect_ratio", SEEDANCE_ASPECT_RATIOS)
    _boolean(inp, "generate_audio", "web_search", "nsfw_checker", "return_last_frame")
    _url(inp, "first_frame_url")
    _url(inp, "last_frame_url")
    _urls(inp, "reference_image_urls", 9)
    _urls(inp, "reference_video_urls", 3)
    _urls(inp, "reference_audio_urls", 3)
    if _present(inp, "last_frame_url") and not _present(inp, "first_frame_url"):
        raise InputError("input.last_frame_url needs input.first_frame_url")
    references = [f for f in URL_FIELDS if f.startswith("reference_") and inp.get(f)]
    if references and _present(inp, "first_frame_url"):
        raise InputError(f"input.{references[0]} cannot be combined with input.first_frame_url")


def _hailuo_text(inp: Input) -> None:
    _prompt(inp, 5000)
    _integer(inp, "duration", 4, 15, required=True)
    _choice(inp, "aspect_ratio", HAILUO_ASPECT_RATIOS)
    _choice(inp, "resolution", ("768P", "2K"))


def _hailuo_image(inp: Input) -> None:
    _prompt(inp, 5000)
    _url(inp, "first_frame_url", required=True)
    _hailuo_text(inp)
    _url(inp, "last_frame_url")


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


def _int_field(name: str, default: int) -> Callable[[Input], int]:
    def seconds(inp: Input) -> int:
        value = inp.get(name, default)
        return int(value) if str(value).isdigit() else default

    return seconds


KLING_SECONDS = _int_field("duration", 5)
SEEDANCE_SECONDS = _int_field("duration", 5)
HAILUO_SECONDS = _int_field("duration", 4)
SORA_SECONDS = _int_field("n_frames", 10)


# --- prices (credits; one table, sources as tagged in kie-models.md) ------------------------


def _flat(credits: float, describe: str) -> Price:
    return Price(describe, lambda inp: credits)


def _tiers(name: str, default: str, tiers: dict[str, float], unit: str) -> Price:
    text = ", ".join(f"{credits:g} credits at {tier}" for tier, credits in tiers.items())
    return Price(
        f"{text} per {unit}", lambda inp: tiers.get(str(inp.get(name, default)), tiers[default])
    )


def _per_second(
    seconds: Callable[[Input], int], rate: Callable[[Input], float], text: str
) -> Price:
    return Price(text, lambda inp: rate(inp) * seconds(inp))


PRICES: dict[str, Price] = {
    # T 2025-12 and M 2026-10 agree on 4 (A's 8 is older).
    "google/nano-banana": _flat(4, "4 credits per image"),
    "google/nano-banana-edit": _flat(4, "4 credits per image"),
    # 1K: M profile and Q (Oct 2026); 2K/4K: F 2026-02 (UNCONFIRMED).
    "nano-banana-2": _tiers("resolution", "1K", {"1K": 8, "2K": 12, "4K": 18}, "image"),
    # F 2026-01 (18/18/24).
    "nano-banana-pro": _tiers("resolution", "1K", {"1K": 18, "2K": 18, "4K": 24}, "image"),
    # M: 8 per image whatever the size.
    "gpt-image-2-text-to-image": _flat(8, "8 credits per image"),
    "gpt-image-2-image-to-image": _flat(8, "8 credits per image"),
    # A 2026-01, M 2026-10: basic (2K) 5, high (4K) 8.
    "seedream/4.5-text-to-image": _tiers("quality", "basic", {"basic": 5, "high": 8}, "image"),
    "seedream/4.5-edit": _tiers("quality", "basic", {"basic": 5, "high": 8}, "image"),
    # M: 12 cr/s. Two client tables say 20-40 cr/s by mode and sound; M is the newest source.
    "kling-3.0/video": _per_second(KLING_SECONDS, lambda inp: 12, "12 credits per second"),
    # M 2026-08, ~8.2 cr/s at 720p; kie-models gives no 480p figure, so 480p costs the same.
    "bytedance/seedance-2-mini": _per_second(
        SEEDANCE_SECONDS, lambda inp: 8.2, "8.2 credits per second"
    ),
    # M (halved 2026-09-22) and Q: 8 cr/s at 768P; 13 at 2K.
    **{
        name: _per_second(
            HAILUO_SECONDS,
            lambda inp: 13 if inp.get("resolution") == "2K" else 8,
            "8 credits per second at 768P, 13 at 2K",
        )
        for name in ("minimax-h3/text-to-video", "minimax-h3/image-to-video")
    },
    # kie-api.md era price per clip; the models are paused by default.
    "sora-2-text-to-video": _flat(30, "30 credits per video"),
    "sora-2-image-to-video": _flat(30, "30 credits per video"),
}


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "google/nano-banana", "image", _nano_banana, "Nano Banana", "google",
            ("text-to-image",),
        ),
        ModelSpec(
            "google/nano-banana-edit", "image", _nano_banana_edit, "Nano Banana Edit", "google",
            ("image-to-image",),
        ),
        ModelSpec(
            "nano-banana-2", "image", _nano_banana_2, "Nano Banana 2", "google",
            ("text-to-image", "image-to-image"),
        ),
        ModelSpec(
            "nano-banana-pro", "image", _nano_banana_pro, "Nano Banana Pro", "google",
            ("text-to-image", "image-to-image"),
        ),
        ModelSpec(
            "gpt-image-2-text-to-image", "image", _gpt_image_2, "GPT Image 2", "openai",
            ("text-to-image",),
        ),
        ModelSpec(
            "gpt-image-2-image-to-image", "image", _gpt_image_2_edit, "GPT Image 2 Edit",
            "openai", ("image-to-image",),
        ),
        ModelSpec(
            "seedream/4.5-text-to-image", "image", _seedream_45, "Seedream 4.5", "bytedance",
            ("text-to-image",),
        ),
        ModelSpec(
            "seedream/4.5-edit", "image", _seedream_45_edit, "Seedream 4.5 Edit", "bytedance",
            ("image-to-image",),
        ),
        ModelSpec(
            "kling-3.0/video", "video", _kling_3, "Kling 3.0", "kling",
            ("text-to-video", "image-to-video"), seconds=KLING_SECONDS,
        ),
        ModelSpec(
            "bytedance/seedance-2-mini", "video", _seedance_mini, "Seedance 2 Mini",
            "bytedance", ("text-to-video", "image-to-video"), seconds=SEEDANCE_SECONDS,
        ),
        ModelSpec(
            "minimax-h3/text-to-video", "video", _hailuo_text, "Hailuo 03", "minimax",
            ("text-to-video",), seconds=HAILUO_SECONDS,
        ),
        ModelSpec(
            "minimax-h3/image-to-video", "video", _hailuo_image, "Hailuo 03 Image to Video",
            "minimax", ("image-to-video",), seconds=HAILUO_SECONDS,
        ),
        ModelSpec(
            "sora-2-text-to-video", "video", _sora_text, "Sora 2", "openai",
            ("text-to-video",), seconds=SORA_SECONDS,
        ),
        ModelSpec(
            "sora-2-image-to-video", "video", _sora_image, "Sora 2 Image to Video", "openai",
            ("image-to-video",), seconds=SORA_SECONDS,
        ),
    )
}  # fmt: skip


# --- what a finished task renders ---------------------------------------------------------

RESOLUTION_LONG_SIDE = {"1K": 1024, "2K": 1536, "4K": 2048, "basic": 1536, "high": 2048}
"""Long side of an image result per requested resolution or Seedream quality. Kie's 2K/4K are
2048/4096 px; the emulator stops at 2048 so tests stay quick and results small."""


def image_aspect_ratio(inp: Input) -> str:
    """The requested ratio; `aspect_ratio` wins over the deprecated `image_size`."""
    ratio = inp.get("aspect_ratio") or inp.get("image_size") or "1:1"
    return "1:1" if ratio == "auto" else str(ratio)


def image_long_side(inp: Input) -> int:
    tier = inp.get("resolution") or inp.get("quality") or "1K"
    return RESOLUTION_LONG_SIDE.get(str(tier), RESOLUTION_LONG_SIDE["1K"])


def image_format(spec: ModelSpec, inp: Input) -> Literal["png", "jpeg"]:
    """The encoding of an image result: the requested one, else the model's usual one."""
    requested = inp.get("output_format")
    if requested in ("jpeg", "jpg"):
        return "jpeg"
    if requested == "png":
        return "png"
    # nano-banana-2 defaults to jpg and Seedream sends JPEG (kie-models.md §3.1).
    return "jpeg" if spec.name == "nano-banana-2" or spec.name.startswith("seedream/") else "png"


def video_aspect_ratio(inp: Input) -> str:
    ratio = inp.get("aspect_ratio")
    if ratio == "portrait":
        return "9:16"
    if isinstance(ratio, str) and ":" in ratio:
        return ratio
    return "16:9"  # Sora's landscape, Kling's default, and `adaptive` without a reference


def video_reference_url(inp: Input) -> str | None:
    """The image a video starts from: the first frame, else the first reference image."""
    for name in ("first_frame_url", "image_urls", "reference_image_urls"):
        value = inp.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            return value
    return None


def input_file_urls(inp: Input) -> list[str]:
    """Every file URL the input points Kie at."""
    urls: list[str] = []
    for name in URL_FIELDS:
        value = inp.get(name)
        values = value if isinstance(value, list) else [value]
        urls.extend(v for v in values if isinstance(v, str))
    return urls
