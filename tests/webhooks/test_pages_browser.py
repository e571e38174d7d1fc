"""The Webhooks page in headless Chromium: reached from the sidebar, add an endpoint (the
secret shown once, copied), deliveries with their answers, a disabled endpoint with its
reason, Redeliver, Delete after a confirm; on a phone, one card per delivery.

Runs on SQLite. Screenshots go to $IMAGE2AD_SCREENSHOTS when set, else to a temporary folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Dialog, Page, expect
from standardwebhooks import Webhook

from tests.fixtures.browser import DESKTOP, KEEP_SHOTS, MOBILE
from tests.fixtures.live_app import LiveApp
from tests.web.session import log_in
from tests.webhooks.helpers import add_endpoint, finished_job, wait_deliveries
from tests.webhooks.receiver import receiver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]


def test_add_watch_redeliver_and_delete_endpoints(
    live_app: LiveApp, hooks: LiveApp, page: Page, shots: Path
) -> None:
    user = live_app.user(credits=5)
    with receiver() as good, receiver([410]) as gone, live_app.client(user) as api:
        log_in(page, live_app, user)
        page.get_by_role("link", name="Webhooks", exact=True).click()
        page.wait_for_url(f"{live_app.base_url}/settings/webhooks")
        expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
        expect(page.get_by_role("link", name="Webhooks", exact=True)).to_have_attribute(
            "aria-current", "page"
        )

        page.get_by_label("Endpoint URL").fill(good.url)
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.get_by_label(f"Signing secret for {good.url}")
        expect(secret).to_have_value(re.compile(r"^whsec_[A-Za-z0-9+/]{32}$"))
        shown = secret.input_value()
        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        page.goto(f"{live_app.base_url}/settings/webhooks")
        expect(page.locator("#new-secret")).to_have_count(0)

        add_endpoint(api, gone.url, ["job.completed"])
        finished_job(live_app, api, "Cold brew can on ice, SUMMER SALE")
        (endpoint, dead) = api.get("/api/v1/webhooks").json()["items"]
        wait_deliveries(api, endpoint["id"], lambda i: i and i[0]["state"] == "delivered")
        wait_deliveries(api, dead["id"], lambda i: i and i[0]["state"] == "failed")
        (got,) = good.wait_for(1)
        Webhook(shown).verify(got.body, got.headers)

        page.reload()
        card = page.locator(f"#endpoint-{endpoint['id']}")
        expect(card.locator(".webhook-head .status")).to_have_text("Active")
        row = card.locator("table.deliveries tbody tr")
        expect(row).to_have_count(1)
        expect(row.locator("td[data-label='State']")).to_have_text("Delivered")
        expect(row.locator("td[data-label='Last answer']")).to_contain_text("HTTP 200")
        dead_card = page.locator(f"#endpoint-{dead['id']}")
        expect(dead_card.locator(".webhook-head .status")).to_have_text("Disabled")
        expect(dead_card.locator(".alert")).to_contain_text("410 Gone")
        expect(dead_card.get_by_role("button", name="Redeliver")).to_have_count(0)
        shoot(page, shots / "webhooks-desktop.png")

        page.set_viewport_size(MOBILE)
        page.reload()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= MOBILE["width"], f"the Webhooks page scrolls sideways ({width}px)"
        head = page.locator("table.deliveries thead").first.bounding_box()
        assert head is not None and head["width"] <= 1
        shoot(page, shots / "webhooks-mobile.png")
        page.set_viewport_size(DESKTOP)
        page.reload()

        card.get_by_role("button", name="Redeliver").click()
        page.wait_for_url(f"{live_app.base_url}/settings/webhooks#endpoint-{endpoint['id']}")
        received = good.wait_for(2)
        assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]
        expect(card.locator("table.deliveries tbody tr")).to_have_count(2)

        asked: list[str] = []

        def dismiss_then_accept(dialog: Dialog) -> None:
            asked.append(dialog.message)
            if len(asked) == 1:
                dialog.dismiss()
            else:
                dialog.accept()

        page.on("dialog", dismiss_then_accept)
        delete = dead_card.get_by_role("button", name="Delete")
        delete.click()
        expect(dead_card).to_be_visible()
        delete.click()
        expect(page.locator(f"#endpoint-{dead['id']}")).to_have_count(0)
        assert asked and gone.url in asked[0]
        assert [e["id"] for e in api.get("/api/v1/webhooks").json()["items"]] == [endpoint["id"]]


def test_a_refused_url_is_explained_on_the_page(live_app: LiveApp, page: Page) -> None:
    user = live_app.user()
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/settings/webhooks")
    page.get_by_label("Endpoint URL").fill("https://169.254.169.254/latest")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("public addresses only")
    expect(page.get_by_label("Endpoint URL")).to_have_value("https://169.254.169.254/latest")
    for box in page.get_by_role("checkbox").all():
        box.uncheck()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose at least one event")


def test_the_webhooks_page_needs_a_login(live_app: LiveApp, page: Page) -> None:
    page.goto(f"{live_app.base_url}/settings/webhooks")
    page.wait_for_url(f"{live_app.base_url}/login*")


def shoot(page: Page, path: Path) -> None:
    width = page.viewport_size["width"] if page.viewport_size else DESKTOP["width"]
    page.set_viewport_size({"width": width, "height": page.evaluate("document.body.scrollHeight")})
    page.screenshot(path=str(path))
    if KEEP_SHOTS:
        Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


def test_the_page_passes_axe_at_both_widths(
    live_app: LiveApp, hooks: LiveApp, browser: Browser
) -> None:
    """Every axe rule, with a secret shown, a delivered and a disabled endpoint on the page."""
    if not AXE.exists():
        message = "axe-core is not installed (make test installs it with npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    user = live_app.user()
    # The test injects axe as an inline script, which the page's own CSP rightly refuses.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        a11y = context.new_page()
        with receiver() as good, receiver([410]) as gone, live_app.client(user) as api:
            add_endpoint(api, gone.url, ["job.completed"])
            finished_job(live_app, api)
            (dead,) = api.get("/api/v1/webhooks").json()["items"]
            wait_deliveries(api, dead["id"], lambda i: i and i[0]["state"] == "failed")
            log_in(a11y, live_app, user)
            a11y.goto(f"{live_app.base_url}/settings/webhooks")
            a11y.get_by_label("Endpoint URL").fill(good.url)
            a11y.get_by_role("button", name="Add endpoint").click()
            a11y.locator("#new-secret").wait_for()
            found = {}
            for size in (DESKTOP, MOBILE):
                a11y.set_viewport_size(size)
                if not a11y.evaluate("typeof window.axe !== 'undefined'"):
                    a11y.add_script_tag(content=AXE.read_text())
                violations = a11y.evaluate(RUN_AXE)
                if violations:
                    found[size["width"]] = violations
            assert found == {}, found
    finally:
        context.close()
