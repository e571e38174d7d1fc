"""GET /api/v1/models, POST /api/v1/quotes, and every listed model run end to end through
the emulator from the API: the charge equals the quote, results are of the model's kind."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from image2ad.catalog import Catalog
from image2ad.providers.emulator.veo import veo_of
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp

CATALOG = Catalog.load()
RUNNABLE = [s for s in CATALOG.models() if not s.withdrawn]


def upload(client: httpx.Client) -> str:
    data = image_bytes("PNG", (320, 240), (200, 120, 40))
    response = client.post("/api/v1/uploads", files={"file": ("ref.png", data, "image/png")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_models_lists_the_catalog_with_prices_and_parameters(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        items = client.get("/api/v1/models").json()["items"]
        videos = client.get("/api/v1/models", params={"type": "text-to-video"}).json()["items"]
        assert client.get("/api/v1/models", params={"type": "nope"}).status_code == 422
    with live_app.client() as anonymous:
        assert anonymous.get("/api/v1/models").status_code == 401
    assert len(items) == len(CATALOG.models())
    for gen_type in ("text-to-image", "image-to-image", "text-to-video", "image-to-video"):
        defaults = [m for m in items if m["type"] == gen_type and m["default"]]
        assert len(defaults) == 1 and defaults[0]["price"] == 1 and defaults[0]["available"]
    assert {m["type"] for m in videos} == {"text-to-video"}
    kling = next(m for m in videos if m["id"] == "kling-3.0/video")
    assert kling["api"] == "market" and kling["default"] and kling["result_type"] == "video"
    assert kling["params"]["duration"] == {
        "kind": "int",
        "label": "Length (s)",
        "choices": None,
        "default": 5,
        "min": 3,
        "max": 15,
    }
    assert kling["params"]["sound"]["kind"] == "bool" and kling["images"] == {"min": 0, "max": 0}
    veo = next(m for m in videos if m["id"] == "veo3")
    assert veo["api"] == "veo" and veo["price"] == 2
    sora = next(m for m in videos if m["id"] == "sora-2-text-to-video")
    assert not sora["available"] and "withdrawn" in sora["unavailable_reason"]
    hailuo = next(m for m in items if m["id"] == "minimax-h3/image-to-video")
    assert hailuo["images"] == {"min": 1, "max": 1}


@pytest.mark.parametrize(
    ("body", "credits"),
    [
        ({"type": "text-to-image"}, 1),
        ({"type": "text-to-image", "model": "nano-banana-2", "params": {"resolution": "4K"}}, 5),
        ({"type": "text-to-video", "n_frames": "15"}, 3),
        ({"type": "text-to-video", "model": "veo3"}, 2),
        ({"type": "text-to-video", "params": {"duration": 10, "mode": "pro"}}, 3),
    ],
)
def test_creating_a_job_charges_exactly_its_quote(
    live_app: LiveApp, body: dict[str, Any], credits: int
) -> None:
    user = live_app.user(credits=20)
    body = {"prompt": "A sunlit bottle of cold brew", **body}
    with live_app.client(user) as client:
        quote = client.post("/api/v1/quotes", json=body)
        assert quote.status_code == 200, quote.text
        assert quote.json()["credits"] == credits
        job = client.post("/api/v1/jobs", json=body).json()
        assert job["credits_charged"] == credits
        assert job["model"] == quote.json()["model"]
        assert job["params"] == quote.json()["params"]
        assert client.get("/api/v1/me").json()["credits"] == 20 - credits
        without_prompt = {k: v for k, v in body.items() if k != "prompt"}
        assert client.post("/api/v1/quotes", json=without_prompt).json() == quote.json()
        live_app.wait_job(client, job["id"], timeout=60)
    assert_ledger_invariants(live_app.db, user.id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "text-to-video", "model": "nano-banana-2"}, "model"),
        ({"type": "text-to-video", "params": {"duration": 99}}, "duration"),
        ({"type": "text-to-video", "params": {"colour": "red"}}, "params.colour"),
        (
            {"type": "text-to-image", "model": "gpt-image-2-text-to-image", "output_format": "png"},
            "output_format",
        ),
    ],
)
def test_a_bad_model_or_parameter_is_a_422_naming_it(
    live_app: LiveApp, body: dict[str, Any], field: str
) -> None:
    user = live_app.user()
    body = {"prompt": "x", **body}
    with live_app.client(user) as client:
        for path in ("/api/v1/quotes", "/api/v1/jobs"):
            response = client.post(path, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["error"]["field"] == field
        assert client.get("/api/v1/me").json()["credits"] == 5


def test_a_withdrawn_model_is_refused_up_front_with_what_to_use(live_app: LiveApp) -> None:
    user = live_app.user()
    body = {"type": "text-to-video", "prompt": "x", "model": "sora-2-text-to-video"}
    with live_app.client(user) as client:
        response = client.post("/api/v1/jobs", json=body)
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "model_unavailable"
        assert "Sora 2 is withdrawn" in error["message"] and "Kling 3.0" in error["message"]
        assert client.post("/api/v1/quotes", json=body).status_code == 409
        assert client.get("/api/v1/me").json()["credits"] == 5


@pytest.mark.parametrize("model", RUNNABLE, ids=lambda s: f"{s.type.value}:{s.id}")
def test_every_model_runs_end_to_end(live_app: LiveApp, model: Any) -> None:
    user = live_app.user(credits=20)
    with live_app.client(user) as client:
        body: dict[str, Any] = {
            "type": model.type.value,
            "model": model.id,
            "prompt": "Our sneaker on a wet city street at night",
        }
        if model.images:
            body["source_upload_id"] = upload(client)
        created = client.post("/api/v1/jobs", json=body)
        assert created.status_code == 202, created.text
        done = live_app.wait_job(client, created.json()["id"], timeout=60)
        assert done["status"] == "completed", done
        assert done["model"] == model.id and done["result_type"] == model.result_type
        result = client.get(f"/api/v1/jobs/{done['id']}/result")
        assert result.status_code == 200
        if model.result_type == "image":
            assert Image.open(io.BytesIO(result.content)).size[0] > 0
        else:
            assert result.headers["content-type"] == "video/mp4"
            assert client.get(done["poster_url"]).status_code == 200
    if model.api == "veo":
        veo_task = veo_of(live_app.emulator).tasks[done["task_id"]]
        provider_model, sent_body = veo_task.body["model"], veo_task.body
    else:
        task = live_app.emulator.tasks[done["task_id"]]
        provider_model, sent_body = task.spec.name, task.input
    assert provider_model == model.provider_model
    if model.images:
        sent = sent_body[model.images.field]
        assert sent in ([done["source_image_url"]], done["source_image_url"])
    assert_ledger_invariants(live_app.db, user.id)


def test_a_veo_job_asking_for_1080p_gets_kies_1080p_file(live_app: LiveApp) -> None:
    user = live_app.user()
    body = {
        "type": "text-to-video",
        "model": "veo3",
        "prompt": "Hero shot of the bottle",
        "params": {"resolution": "1080p"},
    }
    with live_app.client(user) as client:
        portrait = {**body, "params": {"resolution": "1080p", "aspect_ratio": "9:16"}}
        refused = client.post("/api/v1/jobs", json=portrait)
        assert refused.status_code == 422 and "16:9 videos only" in refused.text
        done = live_app.wait_job(client, client.post("/api/v1/jobs", json=body).json()["id"])
    assert done["status"] == "completed", done
    emulator = veo_of(live_app.emulator)
    assert done["task_id"] in emulator.full_hd_served
    assert_ledger_invariants(live_app.db, user.id)
