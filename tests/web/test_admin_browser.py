"""The admin console in headless Chromium: an admin opens it from the sidebar, finds a user by
email, grants them credits with a reason, sees the line in their ledger, and disables them;
the spend page after a few real jobs.

Runs on SQLite. Screenshots go to $IMAGE2AD_SCREENSHOTS when set, else to a temporary folder.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from image2ad.models import User
from tests.auth.test_password_reset import can_log_in
from tests.fixtures.factories import TestUser, create_user
from tests.fixtures.live_app import LiveApp
from tests.web.session import PASSWORD, log_in
from tests.web.test_credits_browser import shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]


def named_user(
    live_app: LiveApp, name: str, tag: str, credits: int, admin: bool = False
) -> TestUser:
    user = create_user(live_app.db, credits=credits, email=f"{name}@{tag}.example.com")
    if admin:
        with live_app.db.session() as session:
            session.execute(sa.update(User).where(User.id == user.id).values(is_admin=True))
    return user


def test_an_admin_finds_a_user_grants_credits_and_disables_them(
    live_app: LiveApp,
    page: Page,
    shots: Path,
) -> None:
    tag = f"shop{uuid.uuid4().hex[:4]}"
    admin = named_user(live_app, "ops", tag, 0, admin=True)
    customer = named_user(live_app, "maya.lopez", tag, 10)
    for name, credits in (("ben.okafor", 3), ("maya.chen", 25), ("studio", 0)):
        named_user(live_app, name, tag, credits)
    with live_app.client(customer) as api:
        job = api.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Iced latte ad"})
        assert live_app.wait_job(api, job.json()["id"])["status"] == "completed"
    base = live_app.base_url

    log_in(page, live_app, admin)
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url(f"{base}/admin/users")
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    shoot(page, shots / "admin-users-desktop.png")

    page.get_by_label("Email, or its beginning").fill("MAYA.")
    page.get_by_role("button", name="Find").click()
    rows = page.locator("#user-list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(f"maya.chen@{tag}.example.com")  # alphabetical
    row = page.locator(f"#user-{customer.id}")
    expect(row).to_contain_text("9")  # 10 less the job's credit
    expect(row.locator("td[data-label=Jobs]")).to_have_text("1")
    row.get_by_role("link", name=customer.email).click()

    expect(page.get_by_role("heading", name=customer.email)).to_be_visible()
    page.get_by_label("Credits", exact=True).fill("15")
    page.get_by_label("Reason").fill("Launch week thank-you")
    page.get_by_role("button", name="Grant").click()
    expect(page.locator("#admin-notice")).to_have_text("Credits granted.")
    expect(page.locator("#user-credits")).to_have_text("24")
    first_line = page.locator("#user-ledger tbody tr").first
    expect(first_line).to_contain_text("Launch week thank-you")
    expect(first_line).to_contain_text("+15")
    expect(first_line.locator("td[data-label=Balance]")).to_have_text("24")

    # Taking back more than the balance is refused, and says how much could be.
    page.get_by_label("Credits", exact=True).fill("30")
    page.get_by_label("Reason").fill("Typo")
    page.get_by_role("button", name="Take back").click()
    expect(page.locator("#admin-error")).to_contain_text("at most 24 can be taken back")
    expect(page.locator("#user-credits")).to_have_text("24")
    shoot(page, shots / "admin-user-desktop.png")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disable account").click()
    expect(page.locator("#admin-notice")).to_contain_text("The account is disabled")
    expect(page.get_by_role("button", name="Enable account")).to_be_visible()
    with live_app.client(customer) as api:
        assert api.get("/api/v1/me").status_code == 401
    assert not can_log_in(live_app, customer.email, PASSWORD)

    # The customer's own ledger says the same, once they are back.
    page.get_by_role("button", name="Enable account").click()
    expect(page.locator("#admin-notice")).to_have_text("The account is enabled again.")
    with live_app.client(customer) as api:
        lines = api.get("/api/v1/credits/ledger").json()["items"]
        assert api.get("/api/v1/me").json()["credits"] == 24 == sum(x["amount"] for x in lines)
    assert (lines[0]["kind"], lines[0]["amount"], lines[0]["reason"]) == (
        "grant",
        15,
        "Launch week thank-you",
    )


def test_the_spend_page_by_day_type_and_model(
    live_app: LiveApp,
    page: Page,
    shots: Path,
) -> None:
    admin = named_user(live_app, "finance", f"ops{uuid.uuid4().hex[:4]}", 0, admin=True)
    user = live_app.user(credits=20)
    with live_app.client(user) as api:
        made = [
            api.post(
                "/api/v1/jobs", json={"type": type_name, "prompt": "Sneaker on a pedestal", **extra}
            ).json()
            for type_name, extra in (
                ("text-to-image", {}),
                ("text-to-image", {}),
                ("text-to-image", {"model": "nano-banana-pro"}),
                ("text-to-video", {}),
            )
        ]
        for job in made:
            assert live_app.wait_job(api, job["id"])["status"] == "completed"
    log_in(page, live_app, admin)
    page.goto(f"{live_app.base_url}/admin/spend?since=1d")
    expect(page.get_by_role("link", name="Last day")).to_have_attribute("aria-current", "page")
    expect(page.locator("#spend-by-model tbody tr")).not_to_have_count(0)
    expect(page.locator("#spend-by-day .admin-subtotal").first).to_be_visible()
    shoot(page, shots / "admin-spend-desktop.png")
    page.get_by_role("link", name="Last 30 days").click()
    page.wait_for_url("**/admin/spend?since=30d")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Jobs").click()
    page.get_by_label("Type").select_option("text-to-video")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"#job-{made[3]['id']}")).to_contain_text(user.email)
    expect(page.locator(f"#job-{made[0]['id']}")).to_have_count(0)
    shoot(page, shots / "admin-jobs-desktop.png")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Models").click()
    expect(page.locator("#model-list tbody tr")).not_to_have_count(0)
    shoot(page, shots / "admin-models-desktop.png")
