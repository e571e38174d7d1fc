"""Each catalog model's input mapping against Kie's documented schema (kie-models.md §3), the
original request fields on every model, and parameter checks."""

from __future__ import annotations

from typing import Any

import pytest

from image2ad.catalog import Catalog, ModelSpec
from image2ad.errors import InvalidInput

CATALOG = Catalog.load()
URL = "https://files.example/ref.png"


def spec(type_name: str, model_id: str) -> ModelSpec:
    found = CATALOG.find(type_name, model_id)
    assert found is not None, model_id
    return found


def build(type_name: str, model_id: str, params: dict[str, Any] | None = None, **legacy: Any):
    model = spec(type_name, model_id)
    normalized = model.normalize_params(params or {}, legacy=legacy)
    urls = [URL] if model.images else None
    return model.build_input("a can of cold brew", normalized, urls)


# Kie's input for each model at its defaults: field names, value types and spellings.
EXPECTED = {
    ("text-to-image", "google/nano-banana"): {"aspect_ratio": "1:1", "output_format": "png"},
    ("image-to-image", "google/nano-banana-edit"): {
        "aspect_ratio": "1:1",
        "output_format": "png",
        "image_urls": [URL],
    },
    ("text-to-image", "nano-banana-2"): {
        "aspect_ratio": "1:1",
        "resolution": "1K",
        "output_format": "png",
    },
    ("text-to-image", "nano-banana-pro"): {
        "aspect_ratio": "1:1",
        "resolution": "1K",
        "output_format": "png",
    },
    ("image-to-image", "nano-banana-pro"): {
        "aspect_ratio": "1:1",
        "resolution": "1K",
        "output_format": "png",
        "image_input": [URL],
    },
    ("text-to-image", "gpt-image-2-text-to-image"): {"aspect_ratio": "1:1", "resolution": "1K"},
    ("image-to-image", "gpt-image-2-image-to-image"): {
        "aspect_ratio": "1:1",
        "resolution": "1K",
        "input_urls": [URL],
    },
    ("text-to-image", "seedream/4.5-text-to-image"): {"aspect_ratio": "1:1", "quality": "basic"},
    ("image-to-image", "seedream/4.5-edit"): {
        "aspect_ratio": "1:1",
        "quality": "basic",
        "image_urls": [URL],
    },
    ("text-to-video", "kling-3.0/video"): {
        "aspect_ratio": "16:9",
        "duration": "5",
        "mode": "std",
        "sound": True,
    },
    ("image-to-video", "kling-3.0/video"): {
        "aspect_ratio": "16:9",
        "duration": "5",
        "mode": "std",
        "sound": True,
        "image_urls": [URL],
    },
    ("text-to-video", "veo3"): {"aspect_ratio": "16:9", "generationType": "TEXT_2_VIDEO"},
    ("image-to-video", "veo3"): {
        "aspect_ratio": "16:9",
        "imageUrls": [URL],
        "generationType": "FIRST_AND_LAST_FRAMES_2_VIDEO",
    },
    ("text-to-video", "bytedance/seedance-2-mini"): {
        "aspect_ratio": "16:9",
        "duration": 5,
        "resolution": "720p",
        "generate_audio": True,
    },
    ("image-to-video", "bytedance/seedance-2-mini"): {
        "aspect_ratio": "16:9",
        "duration": 5,
        "resolution": "720p",
        "generate_audio": True,
        "first_frame_url": URL,
    },
    ("text-to-video", "minimax-h3/text-to-video"): {
        "aspect_ratio": "16:9",
        "duration": 6,
        "resolution": "768P",
    },
    ("image-to-video", "minimax-h3/image-to-video"): {
        "duration": 6,
        "resolution": "768P",
        "first_frame_url": URL,
    },
}


def test_every_runnable_model_is_covered() -> None:
    runnable = {(s.type.value, s.id) for s in CATALOG.models() if not s.withdrawn}
    assert runnable == set(EXPECTED)


@pytest.mark.parametrize(("key", "expected"), EXPECTED.items(), ids=lambda v: str(v))
def test_input_mapping_at_defaults(key: tuple[str, str], expected: dict[str, Any]) -> None:
    assert build(*key) == {"prompt": "a can of cold brew", **expected}


def test_one_default_per_type_and_video_defaults_run_today() -> None:
    for gen_type in ("text-to-image", "image-to-image", "text-to-video", "image-to-video"):
        defaults = [s for s in CATALOG.models(gen_type) if s.default]
        assert len(defaults) == 1
        assert not defaults[0].withdrawn
        assert CATALOG.default_price(defaults[0]) == 1
    assert CATALOG.default("text-to-video").id == "kling-3.0/video"
    assert CATALOG.default("image-to-video").id == "minimax-h3/image-to-video"


def test_sora_is_listed_only_as_withdrawn() -> None:
    for gen_type in ("text-to-video", "image-to-video"):
        sora = [s for s in CATALOG.models(gen_type) if s.provider_model.startswith("sora-2")]
        assert len(sora) == 1 and sora[0].withdrawn


# --- the original request fields keep working ---------------------------------------------


@pytest.mark.parametrize(
    ("key", "legacy", "expected"),
    [
        (
            ("text-to-video", "kling-3.0/video"),
            {"aspect_ratio": "landscape"},
            {"aspect_ratio": "16:9"},
        ),
        (
            ("text-to-video", "kling-3.0/video"),
            {"aspect_ratio": "portrait"},
            {"aspect_ratio": "9:16"},
        ),
        (("text-to-video", "kling-3.0/video"), {"n_frames": "15"}, {"duration": "15"}),
        (("text-to-video", "kling-3.0/video"), {"remove_watermark": True}, {}),
        (("text-to-video", "veo3"), {"aspect_ratio": "square"}, {"aspect_ratio": "16:9"}),
        (("text-to-video", "veo3"), {"n_frames": "10"}, {}),
        (("image-to-video", "minimax-h3/image-to-video"), {"n_frames": "10"}, {"duration": 10}),
        (("image-to-video", "minimax-h3/image-to-video"), {"aspect_ratio": "landscape"}, {}),
        (("text-to-video", "bytedance/seedance-2-mini"), {"n_frames": "10"}, {"duration": 10}),
        (("text-to-image", "nano-banana-2"), {"output_format": "jpeg"}, {"output_format": "jpg"}),
        (
            ("text-to-image", "google/nano-banana"),
            {"output_format": "jpg"},
            {"output_format": "jpeg"},
        ),
    ],
)
def test_original_fields_map_to_their_equivalents(
    key: tuple[str, str], legacy: dict[str, Any], expected: dict[str, Any]
) -> None:
    sent = build(*key, **legacy)
    assert {k: sent[k] for k in expected} == expected
    assert "remove_watermark" not in sent and "n_frames" not in sent


def test_an_original_field_without_an_equivalent_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"output_format is not supported by Kling 3\.0"):
        build("text-to-video", "kling-3.0/video", output_format="png")


# --- parameter kinds --------------------------------------------------------------------------


def test_veo_spells_auto_its_own_way_and_keeps_1080p_to_itself() -> None:
    assert build("text-to-video", "veo3", {"aspect_ratio": "auto"})["aspect_ratio"] == "Auto"
    assert "resolution" not in build("text-to-video", "veo3", {"resolution": "1080p"})
    with pytest.raises(InvalidInput, match="16:9 videos only"):
        build("text-to-video", "veo3", {"aspect_ratio": "9:16", "resolution": "1080p"})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"duration": 2}, "duration must be from 3 to 15"),
        ({"duration": 16}, "duration must be from 3 to 15"),
        ({"duration": "ten"}, "duration must be a whole number"),
        ({"duration": True}, "duration must be a whole number"),
        ({"sound": "yes"}, "sound must be true or false"),
        ({"mode": "4K"}, "mode must be one of: std, pro"),
        ({"seed": 1}, "params.seed is not a parameter of Kling 3.0"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build("text-to-video", "kling-3.0/video", params)


def test_integer_durations_accept_numeric_strings() -> None:
    assert build("text-to-video", "kling-3.0/video", {"duration": "12"})["duration"] == "12"
    assert build("text-to-video", "minimax-h3/text-to-video", {"duration": "12"})["duration"] == 12


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"aspect_ratio": "auto", "resolution": "1K"}, True),
        ({"aspect_ratio": "auto", "resolution": "2K"}, False),
        ({"aspect_ratio": "1:1", "resolution": "4K"}, False),
        ({"aspect_ratio": "16:9", "resolution": "4K"}, True),
        ({"aspect_ratio": "4:5", "resolution": "2K"}, False),
    ],
)
def test_gpt_image_2_refuses_the_combinations_kie_refuses(params: dict[str, Any], ok: bool) -> None:
    model = spec("text-to-image", "gpt-image-2-text-to-image")
    if ok:
        model.normalize_params(params)
    else:
        with pytest.raises(InvalidInput, match="GPT Image 2"):
            model.normalize_params(params)


def test_prompt_limit_is_the_models() -> None:
    seedream = spec("text-to-image", "seedream/4.5-text-to-image")
    with pytest.raises(InvalidInput, match=r"Seedream 4\.5 takes at most 3000"):
        seedream.validate_prompt("x" * 3001)
    spec("text-to-image", "nano-banana-2").validate_prompt("x" * 20000)


def test_extensions_follow_the_format() -> None:
    assert spec("text-to-image", "nano-banana-2").extension({"output_format": "jpeg"}) == "jpg"
    assert spec("text-to-image", "seedream/4.5-text-to-image").extension({}) == "jpg"
    assert spec("text-to-video", "veo3").extension({}) == "mp4"
