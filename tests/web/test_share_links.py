"""Share links in headless Chromium: made from the job page, opened by a stranger's browser
(no cookies), revoked, and then not found. A pack's link too, at desktop and phone width.

Screenshots go to $IMAGE2AD_SCREENSHOTS when set (docs/screenshots), else to a temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.fixtures.browser import DESKTOP, KEEP_SHOTS, MOBILE
from tests.fixtures.live_app import LiveApp
from tests.web.session import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]
IMAGES_LOADED = """() => [...document.querySelectorAll('main img[src]:not([src=""])')].every(
  (img) => img.complete && img.naturalWidth > 0)"""


@pytest.fixture
def stranger(browser: Browser) -> Iterator[Page]:
    """A second browser with no cookies: someone who was sent the link."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def shoot(page: Page, shots: Path, name: str, focus: str | None = None) -> None:
    """Desktop and phone width, scrolled to `focus` or else the whole page; it must never
    scroll sideways."""
    for size, kind in ((DESKTOP, "desktop"), (MOBILE, "mobile")):
        page.set_viewport_size(size)
        page.wait_for_function(IMAGES_LOADED)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {size['width']} px"
        if focus:
            # Its top just under the sticky top bar.
            page.locator(focus).evaluate(
                "(el) => { el.scrollIntoView({ block: 'start' }); window.scrollBy(0, -72); }"
            )
        else:
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": size["width"], "height": height})
        path = shots / f"{name}-{kind}.png"
        page.screenshot(path=path)
        if KEEP_SHOTS:
            # A 256-colour palette keeps UI screenshots a third of the size, for the docs.
            Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    page.set_viewport_size(DESKTOP)


def finished(live_app: LiveApp, user: Any, body: dict[str, Any], path: str) -> dict[str, Any]:
    with live_app.client(user) as api:
        made = api.post(path, json=body)
        assert made.status_code == 202, made.text
        created: dict[str, Any] = made.json()
        done = [live_app.wait_job(api, job["id"]) for job in created.get("jobs", [created])]
    assert [job["status"] for job in done] == ["completed"] * len(done)
    return created if "jobs" in created else done[0]


def test_share_from_the_job_page_open_logged_out_then_revoke(
    live_app: LiveApp, page: Page, stranger: Page, shots: Path
) -> None:
    user = live_app.user(credits=2)
    job = finished(
        live_app,
        user,
        {"type": "text-to-image", "prompt": "Sparkling water, lime slice", "aspect_ratio": "4:5"},
        "/api/v1/jobs",
    )
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/jobs/{job['id']}")
    page.get_by_text("Share link…").click()
    expect(page.get_by_text("No active links.")).to_be_visible()
    page.get_by_role("radio", name="30 days").check()
    page.get_by_role("button", name="Create link").click()
    url_box = page.get_by_label("New share link")
    expect(url_box).to_be_visible()
    expect(page.get_by_text("this link is shown only once")).to_be_visible()
    url = url_box.input_value()
    assert url.startswith(f"{live_app.base_url}/s/")
    rows = page.locator("[data-share-list] li")
    expect(rows).to_have_count(1)
    expect(page.get_by_text("No active links.")).to_be_hidden()
    shoot(page, shots, "job-share", focus=".share-panel")

    stranger.goto(url)
    expect(stranger.get_by_role("heading", name="An image shared with you")).to_be_visible()
    shared = stranger.locator("main img")
    expect(shared).to_have_count(1)
    stranger.wait_for_function(IMAGES_LOADED)
    width, height = shared.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert (width, height) == (job["result_width"], job["result_height"])
    expect(stranger.get_by_role("link", name="Download")).to_have_attribute(
        "download", f"image2ad-image-{job['created_at'][:10]}.png"
    )
    assert user.email not in stranger.content()
    assert stranger.context.cookies() == []
    shoot(stranger, shots, "share-page")

    # A second link stays; revoking the first (after confirming) leaves only it.
    page.get_by_role("button", name="Create link").click()
    expect(rows).to_have_count(2)
    assert url_box.input_value() != url
    page.once("dialog", lambda dialog: dialog.accept())
    # The list is newest first: the first link is the last row.
    rows.last.get_by_role("button", name="Revoke").click()
    expect(rows).to_have_count(1)
    expect(page.get_by_role("status")).to_have_text("Link revoked.")

    response = stranger.reload()
    assert response is not None and response.status == 404
    expect(stranger.get_by_role("heading", name="Link not found")).to_be_visible()
    expect(stranger.locator("main img")).to_have_count(0)
    shoot(stranger, shots, "share-not-found")


def test_a_pack_link_shows_every_placement(
    live_app: LiveApp, page: Page, stranger: Page, shots: Path
) -> None:
    user = live_app.user(credits=10)
    pack = finished(
        live_app,
        user,
        {
            "type": "text-to-image",
            "prompt": "Cold brew can on crushed ice",
            "placements": ["feed", "story", "landscape"],
            "variants": 2,
        },
        "/api/v1/packs",
    )
    with live_app.client(user) as api:
        made = api.post("/api/v1/shares", json={"pack_id": pack["id"]})
        assert made.status_code == 201, made.text
    stranger.goto(made.json()["url"])
    expect(stranger.get_by_role("heading", name="An ad pack shared with you")).to_be_visible()
    for title in ("Feed 1:1", "Story / Reel 9:16", "Landscape 16:9"):
        expect(stranger.get_by_role("heading", name=title)).to_be_visible()
    expect(stranger.locator("main img")).to_have_count(6)
    expect(stranger.get_by_role("link", name="Download all (ZIP)")).to_be_visible()
    with stranger.expect_download() as download:
        stranger.get_by_role("link", name="Download Story / Reel 9:16, variant 2").click()
    assert download.value.suggested_filename == "story-9x16-v2.png"
    shoot(stranger, shots, "share-pack")
