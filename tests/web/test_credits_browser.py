"""The Credits page in headless Chromium: reached from the top bar's balance, the low-balance
notice with its Get credits link, the ledger with job links (none for a deleted job), paging,
the CSV download; on a phone, one card per line.

Runs on SQLite. Screenshots go to $IMAGE2AD_SCREENSHOTS when set, else to a temporary folder.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from image2ad.credits import service as credits
from tests.fixtures.browser import DESKTOP, KEEP_SHOTS, MOBILE
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import TestUser
from tests.fixtures.live_app import LiveApp
from tests.web.session import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]
CREDITS_URL = "https://billing.example.com/credits"
MINUS = "\u2212"  # the page writes a real minus sign


@pytest.fixture
def credits_url(live_app: LiveApp) -> Iterator[str]:
    settings = live_app.app.state.runtime.settings
    settings.credits_url = CREDITS_URL
    try:
        yield CREDITS_URL
    finally:
        settings.credits_url = None


def history(live_app: LiveApp, user: TestUser) -> dict[str, str]:
    """A promo grant, two finished jobs, a failed one (refunded) and a deleted one."""
    with live_app.db.session() as session:
        credits.grant(session, user.id, 2, note="Launch promo")
    knobs = live_app.emulator.settings
    with live_app.client(user) as api:
        made = {}
        for name, type_name, prompt in (
            ("image", "text-to-image", "Cold brew can on ice, SUMMER SALE in bold letters"),
            ("video", "text-to-video", "Sneaker spinning on a pedestal, studio light"),
            ("deleted", "text-to-image", "Old banner nobody needs"),
        ):
            job = api.post("/api/v1/jobs", json={"type": type_name, "prompt": prompt}).json()
            assert live_app.wait_job(api, job["id"])["status"] == "completed"
            made[name] = job["id"]
        assert api.delete(f"/api/v1/jobs/{made['deleted']}").status_code == 204
        knobs.image_duration_s = 60
        failing = api.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Poster the model refuses"}
        ).json()
        wait_until(lambda: api.get(f"/api/v1/jobs/{failing['id']}").json()["task_id"], 20)
        task_id = api.get(f"/api/v1/jobs/{failing['id']}").json()["task_id"]
        live_app.emulator.force_fail(task_id, "422", "Prompt contains prohibited content")
        assert live_app.wait_job(api, failing["id"])["status"] == "failed"
        made["failed"] = failing["id"]
        assert api.get("/api/v1/me").json() | {"id": "", "email": ""} == {
            "id": "",
            "email": "",
            "credits": 2,
            "credits_low": True,
        }
    return made


def test_the_credits_page_shows_the_ledger_a_low_balance_and_the_csv(
    live_app: LiveApp, page: Page, shots: Path, credits_url: str
) -> None:
    user = live_app.user(credits=3)
    jobs = history(live_app, user)
    log_in(page, live_app, user)
    page.locator(".balance a").click()
    page.wait_for_url(f"{live_app.base_url}/credits")
    expect(page.get_by_role("heading", name="Credits", level=1)).to_be_visible()
    expect(page.locator(".balance a")).to_have_attribute("aria-current", "page")
    expect(page.locator(".credit-total")).to_have_text("2 credits")
    notice = page.locator("#credits-low")
    expect(notice).to_contain_text("Your balance is low")
    expect(notice.get_by_role("link", name="Get credits")).to_have_attribute("href", credits_url)

    rows = page.locator("table.ledger tbody tr")
    expect(rows).to_have_count(7)
    expect(rows.locator("td[data-label='What']")).to_have_text(
        [
            "Refund: The model turned the request down",
            "Text to Image: Poster the model refuses",
            "Text to Image: Old banner nobody needs Deleted",
            "Text to Video: Sneaker spinning on a pedestal, studio light",
            "Text to Image: Cold brew can on ice, SUMMER SALE in bold letters",
            "Launch promo",
            "Sign-up bonus",
        ]
    )
    expect(rows.locator("td[data-label='Amount']")).to_have_text(
        ["+1", *[f"{MINUS}1"] * 4, "+2", "+3"]
    )
    expect(rows.locator("td[data-label='Balance']")).to_have_text(
        ["2", "1", "2", "3", "4", "5", "3"]
    )
    deleted = rows.filter(has_text="Old banner nobody needs")
    expect(deleted.locator(".status")).to_have_text("Deleted")
    expect(deleted.locator("a")).to_have_count(0)
    times = rows.first.locator("time[data-local]")
    expect(times).to_have_count(1)
    assert "UTC" in (times.get_attribute("title") or "")

    shoot(page, shots / "credits.png")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("image2ad-credits-")
    with open(download.value.path(), newline="") as file:
        lines = list(csv.DictReader(file))
    assert [int(line["balance_after"]) for line in lines] == [2, 1, 2, 3, 4, 5, 3]
    assert lines[2]["job_id"] == jobs["deleted"]

    page.set_viewport_size(MOBILE)
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= MOBILE["width"], f"the Credits page scrolls sideways on a phone ({width}px)"
    # One card per line: the column heads are only for screen readers.
    head = page.locator("table.ledger thead").bounding_box()
    assert head is not None and head["width"] <= 1
    shoot(page, shots / "credits-phone.png")
    page.set_viewport_size(DESKTOP)

    page.get_by_role("link", name="Text to Video: Sneaker spinning on a pedestal").click()
    page.wait_for_url(f"{live_app.base_url}/jobs/{jobs['video']}")


def test_older_lines_are_on_the_next_pages(live_app: LiveApp, page: Page) -> None:
    user = live_app.user(credits=1)
    with live_app.db.session() as session:
        for n in range(1, 31):
            credits.grant(session, user.id, 1, note=f"Top-up {n}")
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/credits")
    expect(page.locator("#credits-low")).to_have_count(0)
    rows = page.locator("table.ledger tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("Top-up 30")
    expect(page.get_by_role("link", name="← Newest")).to_have_count(0)
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("Top-up 5")
    expect(rows.last).to_contain_text("Sign-up bonus")
    expect(rows.last.locator("td[data-label='Balance']")).to_have_text("1")
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)
    page.get_by_role("link", name="← Newest").click()
    expect(rows.first).to_contain_text("Top-up 30")
    expect(rows.first.locator("td[data-label='Balance']")).to_have_text("31")


def test_the_credits_page_needs_a_login(live_app: LiveApp, page: Page) -> None:
    page.goto(f"{live_app.base_url}/credits")
    page.wait_for_url(f"{live_app.base_url}/login*")


def shoot(page: Page, path: Path) -> None:
    """All of the page: the window made as tall as the page, so the sidebar reaches its end."""
    width = page.viewport_size["width"] if page.viewport_size else DESKTOP["width"]
    page.set_viewport_size({"width": width, "height": page.evaluate("document.body.scrollHeight")})
    page.screenshot(path=str(path))
    if KEEP_SHOTS:
        # A 256-colour palette keeps UI screenshots a third of the size, for the docs.
        Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
