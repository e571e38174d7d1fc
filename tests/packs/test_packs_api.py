"""`POST /packs`: one brief for several placements and variants, charged in one transaction,
idempotent, yours only; results with each placement's exact ratio; the pack as one ZIP."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
import pytest
from PIL import Image

from image2ad.placements import PLACEMENTS
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp

PHOTO_PACK = {
    "type": "image-to-image",
    "prompt": "The bottle on a sunlit kitchen counter, fresh lemons around it",
    "placements": ["feed", "portrait", "story", "link"],
    "variants": 2,
}
TEXT_PACK = {"type": "text-to-image", "prompt": "Trail shoes on wet rocks", "placements": ["feed"]}


def upload(client: httpx.Client) -> str:
    photo = image_bytes("PNG", (96, 128), (30, 120, 200))
    response = client.post("/api/v1/uploads", files={"file": ("bottle.png", photo, "image/png")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def wait_pack(live_app: LiveApp, client: httpx.Client, pack: dict[str, Any]) -> dict[str, Any]:
    for job in pack["jobs"]:
        live_app.wait_job(client, job["id"], timeout=60)
    response = client.get(f"/api/v1/packs/{pack['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def credits(client: httpx.Client) -> int:
    return int(client.get("/api/v1/me").json()["credits"])


def test_a_photo_pack_makes_every_placement_at_its_exact_ratio(live_app: LiveApp) -> None:
    user = live_app.user(credits=20)
    with live_app.client(user) as client:
        body = {**PHOTO_PACK, "source_upload_id": upload(client)}
        quote = client.post("/api/v1/packs/quote", json=body)
        assert quote.status_code == 200, quote.text
        created = client.post("/api/v1/packs", json=body)
        assert created.status_code == 202, created.text
        pack = created.json()
        assert (
            pack["credits_charged"]
            == quote.json()["credits"]
            == sum(j["credits_charged"] for j in pack["jobs"])
        )
        assert credits(client) == 20 - pack["credits_charged"]
        grid = [(j["placement"], j["variant"]) for j in pack["jobs"]]
        assert grid == [(p, v) for p in PHOTO_PACK["placements"] for v in (1, 2)]
        assert {j["pack_id"] for j in pack["jobs"]} == {pack["id"]}
        assert len({j["source_upload_id"] for j in pack["jobs"]}) == 1

        done = wait_pack(live_app, client, pack)
        assert done["status"] == "completed", [j["status"] for j in done["jobs"]]
        for job in done["jobs"]:
            placement = PLACEMENTS[job["placement"]]
            result = client.get(f"/api/v1/jobs/{job['id']}/result")
            with Image.open(io.BytesIO(result.content)) as image:
                assert image.size == (job["result_width"], job["result_height"])
                assert placement.matches(*image.size), (job["placement"], image.size)

        archive = client.get(f"/api/v1/packs/{pack['id']}/zip")
        assert archive.status_code == 200
        assert archive.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
            names = zipped.namelist()
            assert len(names) == 8
            assert names[0].startswith("feed-1x1-v1.") and "story-9x16-v2." in names[5]
            assert names[-1].startswith("link-1.91x1-v2.")
            first = client.get(f"/api/v1/jobs/{done['jobs'][0]['id']}/result").content
            assert zipped.read(names[0]) == first
    assert_ledger_invariants(live_app.db, user.id)


def test_each_placement_asks_the_model_for_its_nearest_ratio(live_app: LiveApp) -> None:
    user = live_app.user(credits=5)
    with live_app.client(user) as client:
        body = {**TEXT_PACK, "placements": ["feed", "portrait", "story", "landscape", "link"]}
        quote = client.post("/api/v1/packs/quote", json={**body, "prompt": ""})
        assert quote.status_code == 200, quote.text
        ratios = {j["placement"]: j["params"]["aspect_ratio"] for j in quote.json()["jobs"]}
        assert ratios == {
            "feed": "1:1",
            "portrait": "4:5",
            "story": "9:16",
            "landscape": "16:9",
            "link": ratios["link"],
        }
        assert ratios["link"] in ("16:9", "2:1", "21:9")


def test_short_balance_charges_nothing(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with live_app.client(user) as client:
        body = {**TEXT_PACK, "placements": ["feed", "story"], "variants": 2}
        response = client.post("/api/v1/packs", json=body)
        assert response.status_code == 402, response.text
        assert "4 credits" in response.json()["error"]["message"]
        assert credits(client) == 3
        assert client.get("/api/v1/jobs").json()["items"] == []
        assert client.get("/api/v1/packs").json()["items"] == []
    assert_ledger_invariants(live_app.db, user.id)


def test_a_retried_create_makes_one_pack(live_app: LiveApp) -> None:
    user = live_app.user(credits=4)
    with live_app.client(user) as client:
        headers = {"Idempotency-Key": "pack-retry-1"}
        body = {**TEXT_PACK, "variants": 2}
        first = client.post("/api/v1/packs", json=body, headers=headers)
        again = client.post("/api/v1/packs", json=body, headers=headers)
        assert first.status_code == again.status_code == 202
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json()["id"] == first.json()["id"]
        assert [j["id"] for j in again.json()["jobs"]] == [j["id"] for j in first.json()["jobs"]]
        assert credits(client) == 2
        other = client.post("/api/v1/packs", json={**body, "variants": 1}, headers=headers)
        assert (
            other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        )
        wait_pack(live_app, client, first.json())
    assert_ledger_invariants(live_app.db, user.id)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"placements": ["feed", "billboard"]}, "placements"),
        ({"placements": []}, "placements"),
        ({"placements": ["feed", "feed"]}, "placements"),
        ({"variants": 0}, "variants"),
        ({"variants": 5}, "variants"),
        ({"params": {"aspect_ratio": "1:1"}}, "params.aspect_ratio"),
    ],
)
def test_bad_packs_are_refused_with_nothing_charged(
    live_app: LiveApp, change: dict[str, Any], field: str
) -> None:
    user = live_app.user(credits=10)
    with live_app.client(user) as client:
        response = client.post("/api/v1/packs", json={**TEXT_PACK, **change})
        assert response.status_code == 422, response.text
        assert field in (response.json()["error"].get("field") or "") + response.text
        assert credits(client) == 10


def test_sources_and_packs_are_yours_only(live_app: LiveApp) -> None:
    owner, other = live_app.user(credits=10), live_app.user(credits=10)
    with live_app.client(owner) as client:
        video = client.post(
            "/api/v1/jobs", json={"type": "text-to-video", "prompt": "A wave rolls in"}
        )
        assert video.status_code == 202, video.text
        video_job = live_app.wait_job(client, video.json()["id"], timeout=60)
        pack = client.post("/api/v1/packs", json=TEXT_PACK).json()
        wait_pack(live_app, client, pack)
        as_source = {**PHOTO_PACK, "variants": 1, "source_job_id": video_job["id"]}
        refused = client.post("/api/v1/packs", json=as_source)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "source_job_id"
    with live_app.client(other) as client:
        image_job = pack["jobs"][0]["id"]
        stolen = client.post(
            "/api/v1/packs", json={**PHOTO_PACK, "variants": 1, "source_job_id": image_job}
        )
        assert stolen.status_code == 404, stolen.text
        for method, path in [
            ("GET", f"/api/v1/packs/{pack['id']}"),
            ("GET", f"/api/v1/packs/{pack['id']}/zip"),
            ("DELETE", f"/api/v1/packs/{pack['id']}"),
        ]:
            assert client.request(method, path).status_code == 404, path
        pick = client.post(f"/api/v1/packs/{pack['id']}/pick", json={"job_id": image_job})
        assert pick.status_code == 404
        assert credits(client) == 10


def test_picking_a_winner_stars_it_alone_in_its_placement(live_app: LiveApp) -> None:
    user = live_app.user(credits=4)
    with live_app.client(user) as client:
        pack = client.post(
            "/api/v1/packs", json={**TEXT_PACK, "placements": ["feed", "story"], "variants": 2}
        ).json()
        pack = wait_pack(live_app, client, pack)
        feed1, feed2, story1, _ = (j["id"] for j in pack["jobs"])
        client.put(f"/api/v1/jobs/{story1}/star")
        for winner in (feed1, feed2):
            picked = client.post(f"/api/v1/packs/{pack['id']}/pick", json={"job_id": winner})
            assert picked.status_code == 200, picked.text
            starred = {j["id"] for j in picked.json()["jobs"] if j["starred"]}
            assert starred == {winner, story1}
        stray = client.post(f"/api/v1/packs/{pack['id']}/pick", json={"job_id": "nope"})
        assert stray.status_code == 422


def test_deleting_a_pack_removes_its_jobs_and_refunds_unfinished_ones(live_app: LiveApp) -> None:
    user = live_app.user(credits=4)
    live_app.emulator.settings.image_duration_s = 30
    with live_app.client(user) as client:
        pack = client.post("/api/v1/packs", json={**TEXT_PACK, "variants": 2}).json()
        assert client.delete(f"/api/v1/packs/{pack['id']}").status_code == 204
        assert client.get(f"/api/v1/packs/{pack['id']}").status_code == 404
        for job in pack["jobs"]:
            assert client.get(f"/api/v1/jobs/{job['id']}").status_code == 404
        assert credits(client) == 4
        listed = client.get("/api/v1/packs").json()["items"]
        assert pack["id"] not in [p["id"] for p in listed]
    assert_ledger_invariants(live_app.db, user.id)


def test_a_video_pack_is_cropped_to_the_link_ratio_too(live_app: LiveApp) -> None:
    user = live_app.user(credits=10)
    with live_app.client(user) as client:
        body = {"type": "text-to-video", "prompt": "A wave rolls in", "placements": ["link"]}
        created = client.post("/api/v1/packs", json=body)
        assert created.status_code == 202, created.text
        done = wait_pack(live_app, client, created.json())
        assert done["status"] == "completed", done["jobs"]
        job = done["jobs"][0]
        assert PLACEMENTS["link"].matches(job["result_width"], job["result_height"]), job
        assert job["result_content_type"] == "video/mp4" and job["result_sha256"]
    assert_ledger_invariants(live_app.db, user.id)
