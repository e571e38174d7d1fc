"""The model discovery routes: catalogue, price, schema and success rate (kie-models.md §1)."""

import itertools

import httpx

from tests.fixtures.emulator import StartEmulator, create_task, wait_terminal
from tests.providers.emulator.inputs import LIVE_INPUTS

FAST = {"discovery_limit": 1000}


def data(response: httpx.Response) -> object:
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 200, body
    return body["data"]


def test_models_lists_live_and_paused_models_but_not_withdrawn(
    start_emulator: StartEmulator,
) -> None:
    emu = start_emulator(**FAST, withdrawn_models=frozenset({"nano-banana-pro"}))
    with emu.client() as client:
        listing = data(client.get("/api/v1/models"))

    assert isinstance(listing, dict)
    names = [m["model"] for m in listing["models"]]
    assert listing["total"] == len(names)
    assert set(LIVE_INPUTS) - {"nano-banana-pro"} <= set(names)
    assert "sora-2-text-to-video" in names  # paused models stay listed
    assert "nano-banana-pro" not in names
    kling = next(m for m in listing["models"] if m["model"] == "kling-3.0/video")
    assert set(kling) == {
        "model", "slug", "title", "provider", "taskType", "description", "pricingDesc",
    }  # fmt: skip
    assert kling["taskType"] == ["text-to-video", "image-to-video"]
    assert kling["pricingDesc"] == "12 credits per second"


def test_models_filters_by_task_type_provider_and_text(start_emulator: StartEmulator) -> None:
    emu = start_emulator(**FAST)
    with emu.client() as client:

        def names(**params: str) -> list[str]:
            listing = data(client.get("/api/v1/models", params=params))
            assert isinstance(listing, dict)
            return sorted(m["model"] for m in listing["models"])

        by_type = names(taskType="image-to-video")
        by_provider = names(provider="bytedance")
        by_text = names(q="BANANA")
        combined = names(taskType="text-to-image", provider="google")

    assert "minimax-h3/image-to-video" in by_type and "nano-banana-2" not in by_type
    assert by_provider == [
        "bytedance/seedance-2-mini",
        "seedream/4.5-edit",
        "seedream/4.5-text-to-image",
    ]
    assert by_text == [
        "google/nano-banana",
        "google/nano-banana-edit",
        "nano-banana-2",
        "nano-banana-pro",
    ]
    assert combined == ["google/nano-banana", "nano-banana-2", "nano-banana-pro"]


def test_price_and_schema_route_model_names_with_slashes(start_emulator: StartEmulator) -> None:
    emu = start_emulator(**FAST)
    with emu.client() as client:
        price = data(client.get("/api/v1/models/seedream/4.5-edit/price"))
        nb2 = data(client.get("/api/v1/models/nano-banana-2/price"))
        schema = data(client.get("/api/v1/models/kling-3.0/video/schema"))
        unknown = client.get("/api/v1/models/midjourney/v9/price").json()

    assert price == {
        "model": "seedream/4.5-edit",
        "pricingDesc": "5 credits at basic, 8 credits at high per image",
    }
    assert nb2 == {
        "model": "nano-banana-2",
        "pricingDesc": "8 credits at 1K, 12 credits at 2K, 18 credits at 4K per image",
    }
    assert schema == {"model": "kling-3.0/video", "openapi": None}
    assert unknown["code"] == 404


def test_success_rate_has_144_ten_minute_points(start_emulator: StartEmulator) -> None:
    emu = start_emulator(**FAST, image_duration_s=0.05, failure_rate=0.0)
    with emu.client() as client:
        idle = data(client.get("/api/v1/models/nano-banana-2/success-rate"))
        wait_terminal(client, create_task(client))
        busy = data(client.get("/api/v1/models/google/nano-banana/success-rate"))
        paused = data(client.get("/api/v1/models/sora-2-text-to-video/success-rate"))

    assert isinstance(idle, list) and isinstance(busy, list) and isinstance(paused, list)
    assert len(idle) == len(busy) == len(paused) == 144
    assert all(p["end"] - p["start"] == 600_000 for p in idle)
    assert all(b["start"] == a["end"] for a, b in itertools.pairwise(idle))
    assert {(p["successRate"], p["isNormal"]) for p in idle} == {(None, True)}
    assert busy[-1] == {**busy[-1], "successRate": 1.0, "errorRate": 0.0, "isNormal": True}
    assert {(p["successRate"], p["isNormal"]) for p in paused} == {(0.0, False)}


def test_failures_and_maintenance_make_points_abnormal(start_emulator: StartEmulator) -> None:
    emu = start_emulator(**FAST, image_duration_s=0.05, failure_rate=1.0)
    with emu.client() as client:
        wait_terminal(client, create_task(client))
        failing = data(client.get("/api/v1/models/google/nano-banana/success-rate"))
        emu.state.settings.maintenance_models = frozenset({"kling-3.0/video"})
        down = data(client.get("/api/v1/models/kling-3.0/video/success-rate"))

    assert isinstance(failing, list) and isinstance(down, list)
    assert (failing[-1]["successRate"], failing[-1]["isNormal"]) == (0.0, False)
    assert not any(p["isNormal"] for p in down)


def test_discovery_routes_share_one_budget_per_account(start_emulator: StartEmulator) -> None:
    emu = start_emulator(api_key=None, discovery_limit=1, discovery_period_s=10)
    with emu.client(api_key="a") as a, emu.client(api_key="b") as b:
        first = a.get("/api/v1/models").json()
        second = a.get("/api/v1/models/nano-banana-2/price")
        other_account = b.get("/api/v1/models/nano-banana-2/price").json()
        credit = a.get("/api/v1/chat/credit").json()  # not part of that budget

    assert first["code"] == 200
    assert second.status_code == 200
    assert second.json() == {"code": 429, "msg": "Rate limit exceeded", "data": None}
    assert other_account["code"] == 200
    assert credit["code"] == 200
    assert emu.state.refusals["discovery"] == 1
