"""The public share page `/s/{token}`, its files and a pack's ZIP, opened with no account and
no cookies, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from image2ad.logs import scrub
from image2ad.models import Pack
from image2ad.shares import pages
from tests.fixtures.live_app import LiveApp
from tests.shares.helpers import PROMPT, finished_job, make_pack, path_of, share, visitor

PRIVATE = {
    "x-robots-tag": "noindex, nofollow",
    "referrer-policy": "no-referrer",
    "cache-control": "private, no-store",
}


def assert_private(reply: httpx.Response) -> None:
    for name, value in PRIVATE.items():
        assert reply.headers.get(name) == value, (reply.url, name, reply.headers.get(name))
    assert "set-cookie" not in reply.headers


def disposition_name(reply: httpx.Response) -> str:
    (name,) = re.findall(r'filename="([^"]+)"', reply.headers["content-disposition"])
    return str(name)


def test_a_job_link_shows_the_image_and_serves_its_exact_bytes(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = finished_job(live_app, client)
        other = finished_job(live_app, client, prompt="Another result")
        original = client.get(f"/api/v1/jobs/{job['id']}/result").content
        path = path_of(share(client, job_id=job["id"])["url"], live_app)
    with visitor(live_app) as anyone:
        page = anyone.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert_private(page)
        html = page.text
        assert '<meta name="robots" content="noindex">' in html
        assert f'<img src="{path}/files/{job["id"]}"' in html
        assert f'href="{path}/files/{job["id"]}" download="image2ad-image-' in html
        # Nothing of the owner or the recipe: no email, prompt, credits, app nav or other ids.
        for private in (user.email, user.id, PROMPT, "Secret launch", "Credits", "/library"):
            assert private not in html, private
        assert other["id"] not in html and "csrf" not in html
        assert "<form" not in html

        served = anyone.get(f"{path}/files/{job['id']}")
        assert served.status_code == 200 and served.content == original
        assert_private(served)
        assert served.headers["content-type"] == "image/png"
        assert re.fullmatch(r"image2ad-image-\d{4}-\d{2}-\d{2}\.png", disposition_name(served))
        assert "citrus" not in served.headers["content-disposition"]
        # Local storage answers Range requests, as the owner's result endpoint does.
        part = anyone.get(f"{path}/files/{job['id']}", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == original[:100]
        # The token opens only its own job.
        assert anyone.get(f"{path}/files/{other['id']}").status_code == 404
        assert anyone.get(f"{path}/files/{other['id']}/poster").status_code == 404
        # A job link has no ZIP; unknown and overlong tokens are plain 404 pages.
        assert anyone.get(f"{path}/zip").status_code == 404
        for wrong in ("/s/not-a-token", "/s/" + "a" * 500, path[:-1] + "x"):
            missing = anyone.get(wrong)
            assert missing.status_code == 404 and "Link not found" in missing.text
            assert_private(missing)


def test_a_video_link_plays_with_its_poster(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = finished_job(live_app, client, type_="text-to-video")
        original = client.get(f"/api/v1/jobs/{job['id']}/result").content
        path = path_of(share(client, job_id=job["id"])["url"], live_app)
    with visitor(live_app) as anyone:
        html = anyone.get(path).text
        files = f"{path}/files/{job['id']}"
        assert f'<video controls playsinline preload="metadata" src="{files}"' in html
        assert f'poster="{files}/poster"' in html
        video = anyone.get(files)
        assert video.content == original and video.headers["content-type"] == "video/mp4"
        poster = anyone.get(f"{files}/poster")
        assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
        assert poster.content[:3] == b"\xff\xd8\xff"


def test_a_pack_link_groups_by_placement_and_zips_every_finished_result(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=6)
    with live_app.client(user) as client:
        story_1, story_2, feed = (finished_job(live_app, client) for _ in range(3))
        outsider = finished_job(live_app, client, prompt="Not in the pack")
        live_app.emulator.settings.image_duration_s = 60
        running = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Later"})
        pack_id = make_pack(
            live_app,
            user,
            [
                (story_2["id"], "story", 2),
                (feed["id"], "feed", 1),
                (story_1["id"], "story", 1),
                (running.json()["id"], "link", 1),
            ],
        )
        originals = {
            job["id"]: client.get(f"/api/v1/jobs/{job['id']}/result").content
            for job in (story_1, story_2, feed)
        }
        path = path_of(share(client, pack_id=pack_id)["url"], live_app)
        with visitor(live_app) as anyone:
            page = anyone.get(path)
            assert page.status_code == 200
            assert_private(page)
            html = page.text
            assert 'Story / Reel <span class="muted">9:16</span>' in html
            assert 'Feed <span class="muted">1:1</span>' in html
            assert 'Link <span class="muted">1.91:1</span>' in html
            assert html.count("Still being made") == 1
            # Placements in the order the pack asked for them, variants in order.
            assert html.index("Story / Reel") < html.index('<h2 id="group-2">Feed')
            assert html.index(story_1["id"]) < html.index(story_2["id"])
            assert 'download="story-9x16-v2.png"' in html
            assert f'href="{path}/zip"' in html and "Download all (ZIP)" in html
            assert PROMPT not in html and user.email not in html

            archive = anyone.get(f"{path}/zip")
            assert archive.status_code == 200
            assert_private(archive)
            assert archive.headers["content-type"] == "application/zip"
            assert re.fullmatch(r"image2ad-pack-\d{4}-\d{2}-\d{2}\.zip", disposition_name(archive))
            with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
                names = {info.filename: zipped.read(info) for info in zipped.infolist()}
            assert names == {
                "feed-1x1-v1.png": originals[feed["id"]],
                "story-9x16-v1.png": originals[story_1["id"]],
                "story-9x16-v2.png": originals[story_2["id"]],
            }
            one = anyone.get(f"{path}/files/{story_2['id']}")
            assert one.content == originals[story_2["id"]]
            assert disposition_name(one) == "story-9x16-v2.png"
            # Neither a job outside the pack nor one still running is served.
            assert anyone.get(f"{path}/files/{outsider['id']}").status_code == 404
            assert anyone.get(f"{path}/files/{running.json()['id']}").status_code == 404
            # A job deleted from the pack leaves the page; the pack deleted, the link is 404.
            assert client.delete(f"/api/v1/jobs/{feed['id']}").status_code == 204
            assert feed["id"] not in anyone.get(path).text
            assert anyone.get(f"{path}/files/{feed['id']}").status_code == 404
            with live_app.db.session() as session:
                session.execute(
                    sa.update(Pack).where(Pack.id == pack_id).values(deleted_at=datetime.now(UTC))
                )
            assert anyone.get(path).status_code == 404
            assert anyone.get(f"{path}/zip").status_code == 404
        client.post(f"/api/v1/jobs/{running.json()['id']}/cancel")


def test_an_empty_pack_page_says_so_and_has_no_zip(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        path = path_of(share(client, pack_id=make_pack(live_app, user, []))["url"], live_app)
    with visitor(live_app) as anyone:
        page = anyone.get(path)
        assert page.status_code == 200 and "Nothing is here yet" in page.text
        assert "Download all" not in page.text
        assert anyone.get(f"{path}/zip").status_code == 404


def test_a_deleted_job_closes_its_link(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        job = finished_job(live_app, client)
        path = path_of(share(client, job_id=job["id"])["url"], live_app)
        with visitor(live_app) as anyone:
            assert anyone.get(path).status_code == 200
            assert client.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
            page = anyone.get(path)
            assert page.status_code == 404 and "Link not found" in page.text
            assert anyone.get(f"{path}/files/{job['id']}").status_code == 404


def test_public_pages_are_rate_limited_per_client(
    live_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        job = finished_job(live_app, client)
        path = path_of(share(client, job_id=job["id"])["url"], live_app)
    # A rule of its own, so the count starts here whatever other tests sent.
    monkeypatch.setattr(pages, "RATE_LIMIT", "3/minute")
    with visitor(live_app) as anyone:
        answers = [anyone.get(path).status_code for _ in range(2)]
        answers.append(anyone.get(f"{path}/files/{job['id']}").status_code)
        assert answers == [200, 200, 200]
        for over in (path, f"{path}/files/{job['id']}", "/s/guessed-token"):
            limited = anyone.get(over)
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
            assert_private(limited)


def test_share_tokens_are_kept_out_of_logs() -> None:
    token = "Zm9vYmFyLXNoYXJlLXRva2VuLTAxMjM0NTY3ODk"
    for line in (f"GET /s/{token} HTTP/1.1", f"GET /s/{token}/files/abc HTTP/1.1"):
        cleaned = scrub(line)
        assert token not in cleaned and "/s/[redacted]" in cleaned
