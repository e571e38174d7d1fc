"""Our prices: the type's default model at its defaults costs the unit; everything else the
same ratio of Kie's cost, rounded up; all of it configurable (docs/adr/0010)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from image2ad.catalog import Catalog

CATALOG = Catalog.load()


def price(type_name: str, model_id: str, **params: object) -> int:
    spec = CATALOG.find(type_name, model_id)
    assert spec is not None
    return CATALOG.price(spec, spec.normalize_params(dict(params)))


def test_defaults_cost_one_credit_as_the_seed_did() -> None:
    assert price("text-to-image", "google/nano-banana") == 1
    assert price("image-to-image", "google/nano-banana-edit") == 1
    assert price("text-to-video", "kling-3.0/video") == 1
    assert price("image-to-video", "minimax-h3/image-to-video") == 1


def test_other_models_keep_the_ratio_to_kies_cost_rounded_up() -> None:
    # Nano Banana is 4 Kie credits; Nano Banana 2 is 8 at 1K, 12 at 2K, 18 at 4K.
    assert price("text-to-image", "nano-banana-2") == 2
    assert price("text-to-image", "nano-banana-2", resolution="2K") == 3
    assert price("text-to-image", "nano-banana-2", resolution="4K") == 5  # 4.5 -> 5
    assert price("text-to-image", "nano-banana-pro") == 5  # 18 / 4 = 4.5 -> 5


def test_video_prices_follow_duration_quality_and_sound() -> None:
    # Kling 3.0 std with sound, 5 s = 150 Kie credits = 1 credit.
    assert price("text-to-video", "kling-3.0/video", duration=10) == 2
    assert price("text-to-video", "kling-3.0/video", duration=15) == 3
    assert price("text-to-video", "kling-3.0/video", sound=False) == 1  # 100 -> 0.67 -> 1
    assert price("text-to-video", "kling-3.0/video", mode="pro", duration=15) == 5  # 4.05 -> 5
    assert price("text-to-video", "veo3") == 2  # 250 / 150
    assert price("text-to-video", "veo3", resolution="1080p") == 2  # 255 / 150


def test_every_price_is_configuration(tmp_path: Path) -> None:
    changes = {
        "pricing": {"unit_credits": 3},
        "models": [{"type": "text-to-image", "id": "nano-banana-pro", "price_credits": 7}],
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(changes))
    catalog = Catalog.load(path)
    nano = catalog.default("text-to-image")
    pro = catalog.find("text-to-image", "nano-banana-pro")
    nb2 = catalog.find("text-to-image", "nano-banana-2")
    assert pro is not None and nb2 is not None
    assert catalog.default_price(nano) == 3
    assert catalog.default_price(nb2) == 6
    assert catalog.default_price(pro) == 7


def test_the_first_override_format_still_changes_a_types_model(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"text-to-image": {"model": "google/nano-banana-v9", "price": 2}}))
    nano = Catalog.load(path).default("text-to-image")
    assert nano.provider_model == "google/nano-banana-v9"
    assert Catalog.load(path).default_price(nano) == 2


def test_a_file_adds_a_model_and_moves_the_default(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        """
[defaults]
text-to-video = "veo3-fast"

[[models]]
extends = "text-to-video:veo3"
id = "veo3-fast"
label = "Veo 3.1 Fast"
provider_model = "veo3_fast"
kie_cost = { credits = 60 }
"""
    )
    catalog = Catalog.load(path)
    fast = catalog.default("text-to-video")
    assert (fast.id, fast.provider_model, fast.api) == ("veo3-fast", "veo3_fast", "veo")
    assert catalog.default_price(fast) == 1
    kling = catalog.find("text-to-video", "kling-3.0/video")
    assert kling is not None and catalog.default_price(kling) == 3  # 150 / 60 -> 2.5 -> 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"defaults": {"text-to-image": "nope"}}, "needs one default"),
        ({"defaults": {"text-to-video": "sora-2-text-to-video"}}, "withdrawn"),
        (
            {"models": [{"type": "text-to-video", "id": "veo3", "fallback": "nope"}]},
            "fallback nope",
        ),
    ],
)
def test_a_broken_catalog_file_stops_the_start(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(changes))
    with pytest.raises(ValueError, match=message):
        Catalog.load(path)
