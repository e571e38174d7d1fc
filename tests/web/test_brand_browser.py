"""The Brand page and a job's renditions in headless Chromium: save a kit, render a rendition
for every placement, see the safe zone over it, delete one. Screenshots go to
$IMAGE2AD_SCREENSHOTS when set (docs/screenshots), else to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from image2ad.placements import PLACEMENTS
from tests.fixtures.browser import DESKTOP, KEEP_SHOTS, MOBILE
from tests.fixtures.live_app import LiveApp
from tests.web.session import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]
# The generation each placement's rendition starts from (the emulator's nearest ratio).
RATIOS = {"feed": "1:1", "portrait": "4:5", "story": "9:16", "landscape": "16:9", "link": "16:9"}
IMAGE_LOADED = """(selector) => {
  const img = document.querySelector(selector);
  return Boolean(img && img.complete && img.naturalWidth > 0);
}"""
# The overlay's box and the picture's, in CSS pixels.
BOXES = """() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return { left: r.left, top: r.top, right: r.right, bottom: r.bottom,
             width: r.width, height: r.height }; };
  return { image: box(document.querySelector('#rendition-image')),
           zone: box(document.querySelector('#safe-zone')) };
}"""


@pytest.fixture(scope="module")
def logo_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wordmark on a transparent background."""
    logo = Image.new("RGBA", (360, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.rounded_rectangle((0, 10, 100, 110), 24, fill=(255, 196, 0, 255))
    draw.ellipse((28, 38, 72, 82), fill=(17, 17, 17, 255))
    draw.rectangle((120, 40, 350, 80), fill=(255, 255, 255, 235))
    path = tmp_path_factory.mktemp("logo") / "logo.png"
    logo.save(path)
    return path


def shoot(
    page: Page, shots: Path, name: str, focus: str | None = None, full_page: bool = False
) -> None:
    """Desktop and mobile screenshots: at the top, scrolled to `focus`, or the whole page."""
    for size, kind in ((DESKTOP, "desktop"), (MOBILE, "mobile")):
        page.set_viewport_size(size)
        if focus:
            # The section's top just below the sticky top bar.
            page.evaluate(
                "(s) => window.scrollTo(0, document.querySelector(s).getBoundingClientRect().top"
                " + window.scrollY - 64)",
                focus,
            )
        else:
            page.evaluate("window.scrollTo(0, 0)")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {size['width']} px"
        path = shots / f"{name}-{kind}.png"
        if full_page:
            # The sidebar is as tall as the window: make the window as tall as the page.
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": size["width"], "height": height})
        page.screenshot(path=path)
        if KEEP_SHOTS:
            Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    page.set_viewport_size(DESKTOP)


def test_save_a_brand_kit_then_render_and_check_each_placement(
    live_app: LiveApp, page: Page, shots: Path, logo_png: Path
) -> None:
    base = live_app.base_url
    user = live_app.user(credits=len(RATIOS))
    with live_app.client(user) as api:
        jobs = {}
        for placement, ratio in RATIOS.items():
            body = {
                "type": "text-to-image",
                "prompt": "Linen shirt on a sunlit beach, soft shadows",
                "aspect_ratio": ratio,
            }
            jobs[placement] = api.post("/api/v1/jobs", json=body).json()["id"]
        for job_id in jobs.values():
            assert live_app.wait_job(api, job_id)["status"] == "completed"
        credits = api.get("/api/v1/me").json()["credits"]
    log_in(page, live_app, user)

    page.get_by_role("link", name="Brand kit").click()
    page.wait_for_url(f"{base}/brand")
    page.set_input_files("#logo-input", logo_png)
    expect(page.locator("#logo-status")).to_contain_text("360 \u00d7 120")
    assert page.evaluate(IMAGE_LOADED, "#logo-preview")
    page.get_by_role("button", name="Add a colour").click()
    page.get_by_label("Colour 1").fill("#e11d48")
    page.get_by_role("button", name="Add a colour").click()
    page.get_by_label("Colour 2").fill("#0f172a")
    page.get_by_label("Font", exact=True).select_option("open-sans")
    page.wait_for_function(
        "() => document.getElementById('font-sample').style.fontFamily.includes('brand-open-sans')"
    )
    page.get_by_label("Default headline").fill("Linen season is here: half price this weekend")
    page.get_by_label("Default call to action").fill("Shop linen")
    expect(page.locator("#font-sample")).to_have_text(
        "Linen season is here: half price this weekend"
    )
    shoot(page, shots, "brand", full_page=True)
    page.get_by_role("button", name="Save brand kit").click()
    expect(page.locator("#brand-status")).to_have_text("Saved.")
    with live_app.client(user) as api:
        kit = api.get("/api/v1/brand").json()
    assert kit["colors"] == ["#E11D48", "#0F172A"] and kit["font"] == "open-sans"
    assert kit["headline"] == "Linen season is here: half price this weekend"
    assert kit["cta"] == "Shop linen" and kit["logo_upload_id"]
    page.reload()
    expect(page.get_by_label("Default headline")).to_have_value(kit["headline"])
    expect(page.locator("#colour-list .colour-code")).to_have_text(["#E11D48", "#0F172A"])

    for placement, job_id in jobs.items():
        page.goto(f"{base}/jobs/{job_id}")
        form = page.locator("#rendition-form")
        expect(page.locator("#rendition-logo")).to_be_checked()
        form.get_by_label("Placement").select_option(placement)
        page.get_by_role("button", name="Render").click()
        page.wait_for_function(IMAGE_LOADED, arg="#rendition-image")
        expect(page.locator("#rendition-list .rendition-item")).to_have_count(1)
        page.get_by_label("Show safe zones").check()
        zone = page.locator("#safe-zone")
        expect(zone).to_be_visible()
        expect(page.locator("#safe-zone-note")).to_contain_text(PLACEMENTS[placement].label)
        boxes = page.evaluate(BOXES)
        image, drawn = boxes["image"], boxes["zone"]
        safe = PLACEMENTS[placement].safe_zone
        for edge, fraction, side in (
            ("left", safe.left, "width"),
            ("right", safe.right, "width"),
            ("top", safe.top, "height"),
            ("bottom", safe.bottom, "height"),
        ):
            inset = abs(drawn[edge] - image[edge])
            assert inset == pytest.approx(fraction * image[side], abs=1.5), (placement, edge)
        shoot(page, shots, f"rendition-{placement}", focus="#rendition-preview")

    # Re-edit: new words make a second rendition; the first can be deleted.
    page.get_by_label("Headline", exact=True).fill("Last day of the linen sale")
    page.get_by_role("button", name="Render").click()
    expect(page.locator("#rendition-list .rendition-item")).to_have_count(2)
    expect(page.locator("#rendition-image")).to_have_attribute(
        "alt", "Branded rendition for Link (1.91:1): Last day of the linen sale · Shop linen"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#rendition-list .rendition-item").last.get_by_role(
        "button", name="Delete"
    ).click()
    expect(page.locator("#rendition-list .rendition-item")).to_have_count(1)
    with live_app.client(user) as api:
        assert len(api.get(f"/api/v1/jobs/{jobs['link']}/renditions").json()["items"]) == 1
        assert api.get("/api/v1/me").json()["credits"] == credits


def test_a_rendition_that_cannot_be_made_says_why(live_app: LiveApp, page: Page) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as api:
        job_id = api.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Hat"}).json()[
            "id"
        ]
        assert live_app.wait_job(api, job_id)["status"] == "completed"
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/jobs/{job_id}")
    expect(page.locator("#rendition-logo")).to_be_disabled()
    page.get_by_role("button", name="Render").click()
    expect(page.locator("#rendition-error")).to_contain_text("Nothing to draw")
    expect(page.locator("#rendition-empty")).to_be_visible()
