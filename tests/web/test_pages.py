"""The pages over HTTP: what each shows, privacy (S7), API keys, Library filters and paging."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from markupsafe import escape

from image2ad.catalog import GenerationType, availability
from image2ad.models import Job
from image2ad.models.base import utcnow
from tests.fixtures.live_app import LiveApp
from tests.web.session import signed_in

SIDEBAR = (
    "/generate/text-to-image",
    "/generate/image-to-image",
    "/generate/text-to-video",
    "/generate/image-to-video",
    "/library",
)


@pytest.mark.parametrize(
    ("type_name", "expect", "absent"),
    [
        (
            "text-to-image",
            ["Feed", "1:1", "Story", "9:16", "Portrait", "4:5", "PNG", ">5,000</span> characters"],
            ["Resolution"],
        ),
        ("image-to-image", ["Reference image", 'type="file"', "Landscape", "JPEG"], []),
        (
            "text-to-video",
            ["Landscape", "Story", "Length (s)", 'type="range"', "Sound", ">2,500</span>"],
            ["PNG", "10 s"],
        ),
        ("image-to-video", ["Reference image", "Length (s)", "768P"], ["Aspect ratio", "Sound"]),
    ],
)
def test_generator_pages_show_the_default_models_own_controls(
    live_app: LiveApp, type_name: str, expect: list[str], absent: list[str]
) -> None:
    user = live_app.user(credits=4)
    with signed_in(live_app, user) as client:
        response = client.page(f"/generate/{type_name}")
        assert response.status_code == 200
        html = response.text
        for link in SIDEBAR:
            assert f'href="{link}"' in html
        assert f'href="/generate/{type_name}" aria-current="page"' in html
        assert 'Costs <strong id="cost-credits">1 credit</strong>' in html
        assert 'id="credits-after">3<' in html
        assert "Offline emulator." in html
        assert "default-src 'self'" in response.headers["content-security-policy"]
        controls = live_controls(html)
        for text in expect:
            assert text in html, text
        for text in absent:
            assert text not in controls, text


def live_controls(html: str) -> str:
    """The parameter controls the page shows, without the other models' templates."""
    return html.split('id="model-params"', 1)[1].split("<template", 1)[0]


def picker_entry(html: str, model_id: str) -> str:
    """The model picker's entry for one model: its radio button and card."""
    match = re.search(
        rf'<label class="model-option[^"]*">\s*<input type="radio" name="model" '
        rf'value="{re.escape(model_id)}".*?</label>',
        html,
        re.S,
    )
    assert match, model_id
    return match.group(0)


@pytest.mark.parametrize("type_name", [t.value for t in GenerationType])
def test_the_model_picker_lists_each_model_with_its_price_and_blurb(
    live_app: LiveApp, type_name: str
) -> None:
    catalog = live_app.app.state.runtime.catalog
    with signed_in(live_app, live_app.user()) as client:
        html = client.page(f"/generate/{type_name}").text
    listed = re.findall(r'<input type="radio" name="model" value="([^"]+)"', html)
    models = catalog.models(type_name)
    default = catalog.default(type_name)
    assert listed[0] == default.id
    assert sorted(listed) == sorted(m.id for m in models if not m.withdrawn)
    assert "Sora 2" not in html
    for spec in models:
        if spec.withdrawn:
            continue
        entry = picker_entry(html, spec.id)
        price = catalog.default_price(spec)
        assert f">{price} credit{'s' if price != 1 else ''}<" in entry, spec.id
        assert escape(spec.label) in entry and escape(spec.blurb) in entry
        assert (" checked" in entry) == (spec.id == default.id), spec.id
        assert "disabled" not in entry


def test_the_picker_prices_differ_by_model(live_app: LiveApp) -> None:
    with signed_in(live_app, live_app.user()) as client:
        images = client.page("/generate/text-to-image").text
        videos = client.page("/generate/image-to-video").text
    assert ">1 credit<" in picker_entry(images, "google/nano-banana")
    assert ">2 credits<" in picker_entry(images, "nano-banana-2")
    assert ">5 credits<" in picker_entry(images, "nano-banana-pro")
    assert ">6 credits<" in picker_entry(videos, "veo3")


def test_a_model_kie_paused_is_greyed_with_the_reason_and_a_link_can_pick_another(
    live_app: LiveApp,
) -> None:
    rt = live_app.app.state.runtime
    veo = rt.catalog.find("text-to-video", "veo3")
    assert veo is not None
    with live_app.db.session() as session:
        availability.mark_unavailable(session, veo, "paused", "paused", timedelta(hours=1))
    try:
        with signed_in(live_app, live_app.user()) as client:
            html = client.page("/generate/text-to-video").text
            veo_entry = picker_entry(html, "veo3")
            assert " disabled" in veo_entry and " checked" not in veo_entry
            assert 'class="model-option unavailable"' in veo_entry
            assert "Unavailable: Veo 3.1 is paused at Kie (since " in veo_entry
            assert 'template data-model-params="veo3"' not in html
            assert " checked" in picker_entry(html, "kling-3.0/video")

            linked = client.page(
                "/generate/text-to-video", params={"model": "bytedance/seedance-2-mini"}
            ).text
            assert " checked" in picker_entry(linked, "bytedance/seedance-2-mini")
            assert " checked" not in picker_entry(linked, "kling-3.0/video")
            controls = live_controls(linked)
            assert 'name="generate_audio"' in controls and "480p" in controls
            assert 'name="mode"' not in controls
            assert 'Costs <strong id="cost-credits">1 credit</strong>' in linked

            for refused in ("veo3", "sora-2-text-to-video", "no-such-model"):
                page = client.page("/generate/text-to-video", params={"model": refused}).text
                assert " checked" in picker_entry(page, "kling-3.0/video"), refused
                assert 'name="mode"' in live_controls(page), refused
    finally:
        with live_app.db.session() as session:
            availability.mark_available(session, veo.provider_model)


def test_job_page_and_library_card_show_the_model_and_its_parameters(live_app: LiveApp) -> None:
    user = live_app.user(credits=4)
    body = {
        "type": "text-to-video",
        "prompt": "Sparkling water pours over ice",
        "model": "kling-3.0/video",
        "params": {"duration": 10, "sound": True, "aspect_ratio": "9:16"},
    }
    with live_app.client(user) as api:
        job = api.post("/api/v1/jobs", json=body).json()
        assert live_app.wait_job(api, job["id"])["status"] == "completed"
    with signed_in(live_app, user) as client:
        page = client.page(f"/jobs/{job['id']}").text
        card = client.page(f"/jobs/{job['id']}/card").text
        library = client.page("/library").text
    recipe = re.sub(r"\s+", " ", page)
    assert '<dd id="job-model">Kling 3.0 <small' in recipe
    for label, value in (
        ("Aspect ratio", "Story 9:16"),
        ("Length (s)", "10"),
        ("Quality", "Standard"),
        ("Sound", "On"),
    ):
        assert f"<dt>{label}</dt><dd>{value}" in recipe, label
    assert "2 charged" in page
    for html in (card, library):
        assert '<span class="job-model">Kling 3.0</span>' in html


def test_unknown_pages_get_the_html_error_page_and_the_api_gets_json(live_app: LiveApp) -> None:
    user = live_app.user()
    with signed_in(live_app, user) as client:
        for path in ("/no-such-page", "/generate/text-to-hologram", "/jobs/nope"):
            response = client.http.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("text/html")
            assert "Page not found" in response.text and 'href="/library"' in response.text
        api = client.http.get("/api/v1/jobs/nope")
        assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
        bad_cursor = client.http.get("/library", params={"cursor": "garbage!"})
        assert bad_cursor.status_code == 422 and "cursor" in bad_cursor.text


def test_another_users_job_page_is_404(live_app: LiveApp) -> None:
    owner, stranger = live_app.user(), live_app.user()
    with live_app.client(owner) as api:
        job = api.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Owl mug"}).json()
        live_app.wait_job(api, job["id"])
    with signed_in(live_app, stranger) as client:
        for path in (f"/jobs/{job['id']}", f"/jobs/{job['id']}/card"):
            response = client.http.get(path)
            assert response.status_code == 404, path
            assert "Owl mug" not in response.text
        assert "Owl mug" not in client.page("/library").text
        for method, path in (
            ("POST", f"/api/v1/jobs/{job['id']}/retry"),
            ("DELETE", f"/api/v1/jobs/{job['id']}"),
        ):
            assert client.api(method, path).status_code == 404
    with signed_in(live_app, owner) as client:
        page = client.page(f"/jobs/{job['id']}")
        assert page.status_code == 200
        assert "Owl mug" in page.text and "google/nano-banana" in page.text
        assert f'href="/api/v1/jobs/{job["id"]}/result" download' in page.text


def test_api_keys_page_shows_a_new_key_once_and_revokes_it(live_app: LiveApp) -> None:
    user = live_app.user()
    with signed_in(live_app, user) as client:
        created = client.submit("/settings/api-keys", {"name": "laptop"})
        assert created.status_code == 201
        key = re.search(r'id="new-key"[^>]*value="(i2a_[^"]+)"', created.text)
        assert key, created.text
        plaintext = key.group(1)
        bearer = {"Authorization": f"Bearer {plaintext}"}
        assert client.http.get("/api/v1/me", headers=bearer).json()["id"] == user.id
        listing = client.page("/settings/api-keys").text
        assert plaintext not in listing and "laptop" in listing and plaintext[:12] in listing
        key_id = re.search(r'<tr id="key-([^"]+)">\s*<td data-label="Name">laptop</td>', listing)
        assert key_id
        revoked = client.submit(f"/settings/api-keys/{key_id.group(1)}/revoke", {})
        assert revoked.status_code == 303
        assert client.http.get("/api/v1/me", headers=bearer).status_code == 401
        assert "Revoked" in client.page("/settings/api-keys").text
        other = client.submit("/settings/api-keys/not-a-key/revoke", {})
        assert other.status_code == 404


def test_library_filters_searches_and_pages(live_app: LiveApp) -> None:
    user = live_app.user()
    tag = uuid.uuid4().hex[:8]
    now = utcnow()
    with live_app.db.session() as session:
        for n in range(26):
            session.add(
                Job(
                    user_id=user.id,
                    type="text-to-video" if n % 2 else "text-to-image",
                    status="canceled",
                    stage=None,
                    prompt=f"{tag} poster {n:02d}" + (" winter" if n == 3 else ""),
                    params={"aspect_ratio": "landscape" if n % 2 else "9:16"},
                    model="m",
                    result_type="video" if n % 2 else "image",
                    callback_secret="s",
                    deadline_at=now,
                    created_at=now + timedelta(seconds=n),
                    credits_charged=1,
                    credits_refunded=1,
                )
            )
    with signed_in(live_app, user) as client:
        first = client.page("/library").text
        assert first.count('class="job-card"') == 24
        assert "1\u201324 of 26" in first
        assert first.index(f"{tag} poster 25") < first.index(f"{tag} poster 24")
        assert "1 credit refunded" in first and "Story 9:16" in first
        assert '<span class="job-model">m</span>' in first
        older = re.search(r'href="(/library\?cursor=[^"]+)" rel="next"', first)
        assert older
        second = client.page(older.group(1).replace("&amp;", "&")).text
        assert second.count('class="job-card"') == 2 and "25\u201326 of 26" in second
        assert 'rel="next"' not in second
        # Newer goes back to the first page.
        newer = re.search(r'href="(/library[^"]*)" rel="prev"', second)
        assert newer and newer.group(1) == "/library"
        found = client.page("/library", params={"q": "WINTER"}).text
        assert found.count('class="job-card"') == 1 and f"{tag} poster 03" in found
        videos = client.page("/library", params={"type": "text-to-video", "status": "canceled"})
        assert videos.text.count('class="job-card"') == 13
        assert "Landscape 16:9" in videos.text
        none = client.page("/library", params={"status": "completed"}).text
        assert 'class="job-card"' not in none and "Nothing matches" in none
