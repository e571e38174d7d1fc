"""Brand kit and renditions over HTTP, on SQLite and PostgreSQL: validation, ownership, free
of charge, re-editable, the original untouched, files removed with the rendition or job."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image, ImageChops

from image2ad import backup
from image2ad.brand import layout, service
from image2ad.brand.fonts import FONT_DIR
from image2ad.models import Job
from image2ad.placements import PLACEMENTS
from tests.fixtures.live_app import LiveApp
from tests.web.session import signed_in

IMAGE = {"type": "text-to-image", "prompt": "Linen shirt on a hanger", "aspect_ratio": "9:16"}


def finished(
    live_app: LiveApp, client: httpx.Client, body: dict[str, Any] = IMAGE
) -> dict[str, Any]:
    created = client.post("/api/v1/jobs", json=body)
    assert created.status_code == 202, created.text
    done = live_app.wait_job(client, created.json()["id"])
    assert done["status"] == "completed", done
    return done


def logo_upload(client: httpx.Client) -> str:
    logo = Image.new("RGBA", (120, 60), (0, 0, 0, 0))
    logo.paste((250, 80, 0, 255), (0, 0, 60, 60))
    out = io.BytesIO()
    logo.save(out, "PNG")
    response = client.post("/api/v1/uploads", files={"file": ("logo.png", out.getvalue())})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def sha256_of(client: httpx.Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return hashlib.sha256(response.content).hexdigest()


def stored(live_app: LiveApp, key_prefix: str) -> list[Path]:
    root = Path(str(live_app.app.state.runtime.storage.local_path(key_prefix)))
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_kit_has_defaults_and_saves_what_is_put(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        empty = client.get("/api/v1/brand")
        assert empty.status_code == 200
        kit = empty.json()
        assert kit["logo_upload_id"] is None and kit["colors"] == [] and kit["font"] == "lato"
        assert {f["id"] for f in kit["fonts"]} == {"lato", "open-sans", "noto-serif"}
        logo = logo_upload(client)
        body = {
            "logo_upload_id": logo,
            "colors": ["#e11d48", "#0F172A"],
            "font": "noto-serif",
            "headline": "  Summer\nsale  ",
            "cta": "Shop now",
        }
        saved = client.put("/api/v1/brand", json=body)
        assert saved.status_code == 200, saved.text
        again = client.get("/api/v1/brand").json()
        for kit in (saved.json(), again):
            assert kit["logo_upload_id"] == logo
            assert kit["logo_url"] == f"/api/v1/uploads/{logo}/file"
            assert kit["colors"] == ["#E11D48", "#0F172A"]
            assert kit["font"] == "noto-serif"
            assert (kit["headline"], kit["cta"]) == ("Summer sale", "Shop now")
        # A PUT replaces the whole kit.
        cleared = client.put("/api/v1/brand", json={"colors": []}).json()
        assert cleared["logo_upload_id"] is None and cleared["headline"] is None
        assert cleared["font"] == "lato"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colors": ["#12345"]}, "colors.0"),
        ({"colors": ["red"]}, "colors.0"),
        ({"colors": ["#1234567"]}, "colors.0"),
        ({"colors": ["#123456"] * 7}, "colors"),
        ({"font": "comic-sans"}, "font"),
        ({"headline": "x" * 201}, "headline"),
        ({"cta": "x" * 61}, "cta"),
        ({"colour": ["#123456"]}, "colour"),
    ],
)
def test_the_kit_refuses_what_it_cannot_use(
    live_app: LiveApp, body: dict[str, Any], field: str
) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        response = client.put("/api/v1/brand", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
        assert client.get("/api/v1/brand").json()["updated_at"] is None


def test_the_logo_must_be_your_upload(live_app: LiveApp) -> None:
    owner, stranger = live_app.user(), live_app.user()
    with live_app.client(owner) as client:
        logo = logo_upload(client)
    with live_app.client(stranger) as client:
        for upload_id in (logo, "no-such-upload"):
            response = client.put("/api/v1/brand", json={"logo_upload_id": upload_id})
            assert response.status_code == 404, response.text
            assert response.json()["error"]["field"] == "logo_upload_id"
        assert client.get("/api/v1/brand").json()["logo_upload_id"] is None


def test_a_rendition_is_free_new_each_time_and_leaves_the_original(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = finished(live_app, client)
        client.put(
            "/api/v1/brand",
            json={"logo_upload_id": logo_upload(client), "colors": ["#E11D48"], "cta": "Shop now"},
        )
        original = sha256_of(client, f"/api/v1/jobs/{job['id']}/result")
        credits = client.get("/api/v1/me").json()["credits"]

        first = client.post(
            f"/api/v1/jobs/{job['id']}/renditions", json={"headline": "Half price linen"}
        )
        assert first.status_code == 201, first.text
        made = first.json()
        assert made["job_id"] == job["id"]
        assert (made["width"], made["height"]) == (job["result_width"], job["result_height"])
        assert (made["headline"], made["cta"], made["logo"]) == (
            "Half price linen",
            "Shop now",
            True,
        )
        assert made["placement"] == "story"  # 9:16, the nearest ratio; the job has none of its own
        picture = client.get(made["url"])
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(picture.content)) as decoded:
            assert decoded.size == (job["result_width"], job["result_height"])

        second = client.post(
            f"/api/v1/jobs/{job['id']}/renditions",
            json={"headline": "Linen for the heat", "cta": "", "logo": False, "placement": "feed"},
        )
        assert second.status_code == 201, second.text
        remade = second.json()
        assert remade["id"] != made["id"]
        assert (remade["headline"], remade["cta"], remade["logo"]) == (
            "Linen for the heat",
            None,
            False,
        )
        assert remade["placement"] == "feed"
        assert sha256_of(client, remade["url"]) != sha256_of(client, made["url"])

        listed = client.get(f"/api/v1/jobs/{job['id']}/renditions")
        assert listed.status_code == 200
        assert [r["id"] for r in listed.json()["items"]] == [remade["id"], made["id"]]
        assert client.get("/api/v1/me").json()["credits"] == credits
        assert sha256_of(client, f"/api/v1/jobs/{job['id']}/result") == original
        assert client.get(f"/api/v1/jobs/{job['id']}").json()["result_sha256"] in (None, original)


def test_text_and_placement_come_from_the_kit_and_the_job(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        job = finished(live_app, client)
        with live_app.db.session() as session:
            session.execute(sa.update(Job).where(Job.id == job["id"]).values(placement="link"))
        client.put("/api/v1/brand", json={"headline": "From the kit", "cta": "Buy"})
        made = client.post(f"/api/v1/jobs/{job['id']}/renditions", json={})
        assert made.status_code == 201, made.text
        body = made.json()
        assert (body["headline"], body["cta"], body["logo"]) == ("From the kit", "Buy", False)
        assert body["placement"] == "link"


def test_refusals(live_app: LiveApp) -> None:
    owner, stranger = live_app.user(credits=3), live_app.user()
    with live_app.client(owner) as client:
        image = finished(live_app, client)
        video = finished(live_app, client, {"type": "text-to-video", "prompt": "Waves at dusk"})
        made = client.post(
            f"/api/v1/jobs/{image['id']}/renditions", json={"headline": "Mine"}
        ).json()
        path = f"/api/v1/jobs/{image['id']}/renditions"
        cases: list[tuple[str, dict[str, Any], int, str]] = [
            (f"/api/v1/jobs/{video['id']}/renditions", {"headline": "A"}, 422, "job"),
            ("/api/v1/jobs/no-such-job/renditions", {"headline": "A"}, 404, ""),
            (path, {"headline": "", "cta": ""}, 422, "headline"),  # nothing to draw
            (path, {"headline": "A", "logo": True}, 422, "logo"),  # the kit has no logo
            (path, {"headline": "A", "placement": "billboard"}, 422, "placement"),
            (path, {"headline": "A", "font": "lato"}, 422, "font"),
            (path, {"headline": "x" * 201}, 422, "headline"),
        ]
        for url, body, status, field in cases:
            response = client.post(url, json=body)
            assert response.status_code == status, (body, response.text)
            if field:
                assert response.json()["error"]["field"] == field
        assert client.delete(f"{path}/no-such-rendition").status_code == 404
        live_app.emulator.settings.image_duration_s = 30
        running = client.post("/api/v1/jobs", json=IMAGE).json()
        response = client.post(f"/api/v1/jobs/{running['id']}/renditions", json={"headline": "A"})
        assert response.status_code == 422 and response.json()["error"]["field"] == "job"
        client.post(f"/api/v1/jobs/{running['id']}/cancel")
    with live_app.client(stranger) as client:
        assert client.post(path, json={"headline": "Theirs"}).status_code == 404
        assert client.get(path).status_code == 404
        assert client.delete(f"{path}/{made['id']}").status_code == 404
    with live_app.client(owner) as client:
        assert [r["id"] for r in client.get(path).json()["items"]] == [made["id"]]


def test_deleting_a_rendition_removes_its_file(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        job = finished(live_app, client)
        made = client.post(
            f"/api/v1/jobs/{job['id']}/renditions", json={"headline": "Going soon"}
        ).json()
        files = stored(live_app, f"renditions/{user.id}/{job['id']}")
        assert [f.stem for f in files] == [made["id"]]
        gone = client.delete(f"/api/v1/jobs/{job['id']}/renditions/{made['id']}")
        assert gone.status_code == 204
        assert stored(live_app, f"renditions/{user.id}/{job['id']}") == []
        assert client.get(made["url"]).status_code == 404
        assert client.get(f"/api/v1/jobs/{job['id']}/renditions").json()["items"] == []
        assert client.get(f"/api/v1/jobs/{job['id']}/result").status_code == 200


def test_deleting_the_job_removes_its_renditions(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        job = finished(live_app, client)
        urls = [
            client.post(f"/api/v1/jobs/{job['id']}/renditions", json={"headline": h}).json()["url"]
            for h in ("One", "Two")
        ]
        assert len(stored(live_app, f"renditions/{user.id}/{job['id']}")) == 2
        assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
        assert stored(live_app, f"renditions/{user.id}/{job['id']}") == []
        for url in urls:
            assert client.get(url).status_code == 404
        assert client.get(f"/api/v1/jobs/{job['id']}/renditions").status_code == 404


def test_a_signed_link_serves_only_renditions_of_its_own_job(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        first, second = finished(live_app, client), finished(live_app, client)
        made = client.post(
            f"/api/v1/jobs/{first['id']}/renditions", json={"headline": "Linked"}
        ).json()
    signer = live_app.app.state.runtime.signer
    key = f"renditions/{user.id}/{first['id']}/{made['id']}.png"
    with httpx.Client(base_url=live_app.base_url) as anonymous:
        assert anonymous.get(f"/api/v1/files/{signer.sign(first['id'], key)}").status_code == 200
        # The same key under another job of the same user names nothing.
        assert anonymous.get(f"/api/v1/files/{signer.sign(second['id'], key)}").status_code == 404


def test_only_the_safe_zone_changes_and_a_jpeg_stays_jpeg(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        client.put("/api/v1/brand", json={"logo_upload_id": logo_upload(client), "cta": "Buy"})
        for output_format, content_type in (("png", "image/png"), ("jpeg", "image/jpeg")):
            job = finished(live_app, client, {**IMAGE, "output_format": output_format})
            made = client.post(
                f"/api/v1/jobs/{job['id']}/renditions",
                json={"headline": "Linen, cut for the heat", "placement": "story"},
            ).json()
            assert made["content_type"] == content_type
            painted = client.get(made["url"])
            assert painted.headers["content-type"] == content_type
            if output_format != "png":
                continue
            original = client.get(f"/api/v1/jobs/{job['id']}/result").content
            with (
                Image.open(io.BytesIO(original)) as before,
                Image.open(io.BytesIO(painted.content)) as after,
            ):
                before, after = before.convert("RGB"), after.convert("RGB")
                safe = layout.safe_box(before.width, before.height, PLACEMENTS["story"])
                inside = (safe.left, safe.top, safe.right, safe.bottom)
                changed = ImageChops.difference(before, after)
                assert changed.crop(inside).getbbox() is not None
                changed.paste((0, 0, 0), inside)
                assert changed.getbbox() is None, "a pixel outside the safe zone changed"


def test_the_pages_and_the_fonts(live_app: LiveApp) -> None:
    with httpx.Client(base_url=live_app.base_url) as anonymous:
        page = anonymous.get("/brand")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fbrand"
        font = anonymous.get("/brand/fonts/lato.ttf")
        assert font.status_code == 200 and font.headers["content-type"] == "font/ttf"
        assert font.content == (FONT_DIR / "Lato-Bold.ttf").read_bytes()
        assert anonymous.get("/brand/fonts/nope.ttf").status_code == 404


def test_renditions_per_job_are_bounded(live_app: LiveApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "MAX_RENDITIONS_PER_JOB", 2)
    user = live_app.user()
    with live_app.client(user) as client:
        job = finished(live_app, client)
        path = f"/api/v1/jobs/{job['id']}/renditions"
        made = [client.post(path, json={"headline": h}) for h in ("One", "Two", "Three")]
        assert [r.status_code for r in made] == [201, 201, 409]
        assert made[2].json()["error"]["code"] == "conflict"
        client.delete(f"{path}/{made[0].json()['id']}")
        assert client.post(path, json={"headline": "Three"}).status_code == 201


def test_the_browser_saves_the_kit_with_its_csrf_token(live_app: LiveApp) -> None:
    user = live_app.user()
    with signed_in(live_app, user) as browser:
        page = browser.page("/brand")
        assert page.status_code == 200 and 'id="brand-form"' in page.text
        body = {"colors": ["#112233"], "headline": "From the page"}
        forged = browser.http.put("/api/v1/brand", json=body, headers={"Origin": browser.base_url})
        assert forged.status_code == 403
        saved = browser.api("PUT", "/api/v1/brand", json=body)
        assert saved.status_code == 200, saved.text
        assert browser.page("/brand").text.count('value="From the page"') == 1


def test_a_backup_takes_the_rendition_files(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        job = finished(live_app, client)
        made = client.post(
            f"/api/v1/jobs/{job['id']}/renditions", json={"headline": "Kept safe"}
        ).json()
    connection = live_app.db.engine.raw_connection()
    try:
        keys, _ = backup._keys_and_revision(connection.driver_connection)
    finally:
        connection.close()
    assert f"renditions/{user.id}/{job['id']}/{made['id']}.png" in keys
