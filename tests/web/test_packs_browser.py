"""An ad pack in headless Chromium: tick placements in a generator, watch the grid fill, pick a
winner per placement, brand it, share the pack with someone logged out, animate the winner,
download the pack.

Runs on SQLite. Screenshots go to $IMAGE2AD_SCREENSHOTS when set, else to a temporary folder.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

from image2ad.placements import PLACEMENTS
from tests.fixtures.browser import DESKTOP, MOBILE
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp
from tests.web.session import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]


@pytest.fixture(scope="module")
def product_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = Image.new("RGB", (800, 800), (244, 238, 226))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((320, 180, 480, 640), radius=40, fill=(46, 110, 84))
    draw.rectangle((350, 320, 450, 420), fill=(250, 214, 90))
    path = tmp_path_factory.mktemp("photo") / "bottle.png"
    image.save(path)
    return path


def make_pack(
    page: Page, live_app: LiveApp, photo: Path, placements: list[str], shots: Path
) -> str:
    page.goto(f"{live_app.base_url}/generate/image-to-image")
    page.set_input_files("#image-input", photo)
    expect(page.locator("#upload-status")).to_contain_text("px")
    page.get_by_label("Prompt").fill("Lemonade bottle on a sunlit kitchen counter, fresh lemons")
    for placement in placements:
        page.locator(f'input[name="placement"][value="{placement}"]').check()
    page.get_by_label("Variants of each").select_option("2")
    count = len(placements) * 2
    expect(page.locator("#generate-button")).to_have_text(f"Make pack ({count})")
    expect(page.locator("#pack-summary")).to_contain_text(f"{count} images")
    # The model's own ratio control steps aside: every placement sets its own.
    expect(page.locator('[data-param="aspect_ratio"]')).to_be_hidden()
    expect(page.locator("#cost-credits")).to_have_text(f"{count} credits")
    # The whole form in one viewport: a full-page shot draws the sticky bars mid-page.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": DESKTOP["width"], "height": height})
    page.screenshot(path=str(shots / "generate-pack-desktop.png"))
    page.set_viewport_size(DESKTOP)
    page.locator("#generate-button").click()
    page.wait_for_url(f"{live_app.base_url}/packs/*")
    return page.url.rsplit("/", 1)[1]


def test_a_pack_from_a_product_photo_fills_in_then_pick_brand_share_animate_and_download(
    live_app: LiveApp, browser: Browser, page: Page, shots: Path, product_photo: Path
) -> None:
    user = live_app.user(credits=20)
    log_in(page, live_app, user)
    placements = ["feed", "portrait", "story", "link"]
    pack_id = make_pack(page, live_app, product_photo, placements, shots)
    # Cells fill in without a reload, then the page shows the finished pack.
    expect(page.locator(".pack-cell")).to_have_count(8)
    expect(page.locator('.pack-cell[data-status="completed"]')).to_have_count(8, timeout=60_000)
    expect(page.locator("#pack-status")).to_have_text("Done", timeout=10_000)
    for placement in placements:
        frame = page.locator(f".pack-row .frame-{placement} img").first
        expect(frame).to_be_visible()
        natural = frame.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert PLACEMENTS[placement].matches(*natural), (placement, natural)

    # Pick variant 2 of the feed, then variant 1: one winner per placement.
    feed = page.locator(".pack-row").filter(has=page.locator(".frame-feed"))
    feed.get_by_role("button", name="Pick Feed variant 2").click()
    expect(feed.locator(".pack-cell.picked")).to_have_count(1)
    feed.get_by_role("button", name="Pick Feed variant 1").click()
    expect(feed.get_by_role("button", name="★ Picked Feed variant 1")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(feed.locator(".pack-cell.picked")).to_have_count(1)
    page.screenshot(path=str(shots / "pack-grid-desktop.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("#pack-zip").click()
    archive = download.value.path()
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert len(names) == 8 and names[0].startswith("feed-1x1-v1.")
        with Image.open(io.BytesIO(zipped.read(names[-1]))) as image:
            assert PLACEMENTS["link"].matches(*image.size)

    # Brand the winner: the rendition keeps the result's size.
    feed.get_by_role("link", name="Open Feed variant 1").click()
    page.wait_for_url(f"{live_app.base_url}/jobs/*")
    page.get_by_label("Headline").fill("Squeeze the summer")
    page.get_by_label("Call to action").fill("Shop now")
    page.get_by_label("Show safe zones").check()
    page.locator("#rendition-render").click()
    rendition = page.locator("#rendition-image")
    expect(rendition).to_be_visible(timeout=30_000)
    page.wait_for_function("() => document.querySelector('#rendition-image').naturalWidth > 0")
    assert rendition.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [1024, 1024]
    page.go_back()
    page.wait_for_url(f"{live_app.base_url}/packs/{pack_id}")

    # Share the pack: a browser with no account sees every result.
    page.get_by_text("Share link…").click()
    page.get_by_role("button", name="Create link").click()
    url_box = page.locator(f"#share-url-{pack_id}")
    expect(url_box).to_have_value(re.compile(r"/s/"))
    stranger = browser.new_context(viewport=DESKTOP)
    try:
        public = stranger.new_page()
        public.goto(url_box.input_value())
        expect(public.locator("main img")).to_have_count(8)
        assert "Lemonade" not in public.content()
    finally:
        stranger.close()

    # Animate the winner: image to video starts from it, and the video names its parent.
    feed = page.locator(".pack-row").filter(has=page.locator(".frame-feed"))
    feed.get_by_role("link", name="Animate Feed variant 1").click()
    page.wait_for_url(f"{live_app.base_url}/generate/image-to-video?source_job=*")
    expect(page.locator("#image-preview")).to_be_visible()
    page.get_by_label("Prompt").fill("The bottle turns slowly as light moves across it")
    page.locator("#generate-button").click()
    expect(page.locator("#job-result video")).to_be_visible(timeout=60_000)

    page.goto(f"{live_app.base_url}/packs")
    expect(page.locator(f'.pack-item a[href="/packs/{pack_id}"]').first).to_be_visible()
    page.screenshot(path=str(shots / "packs-desktop.png"), full_page=True)
    page.set_viewport_size(MOBILE)
    page.goto(f"{live_app.base_url}/packs/{pack_id}")
    expect(page.locator(".pack-cell")).to_have_count(8)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= MOBILE["width"], f"the pack page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(shots / "pack-grid-mobile.png"), full_page=True)
    assert_ledger_invariants(live_app.db, user.id)
