"""axe-core, injected into every page at desktop and phone width: no violation of any impact.

axe-core comes from the npm registry, pinned in tests/a11y/package-lock.json (`make test`
installs it). Pages are checked in the states people meet them in: empty and filled, a result,
a failure, a cancel, the queue drawer open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from image2ad.auth import resets
from image2ad.models import Job, ModelStatus, User, WebhookEndpoint
from image2ad.models.base import utcnow
from tests.fixtures.browser import DESKTOP, MOBILE
from tests.fixtures.factories import TestUser
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp
from tests.web.session import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]
AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
# Every rule axe runs by default (WCAG 2.0 to 2.2, A and AA, and its best practices).
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        message = "axe-core is not installed (make test installs it with npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; the accessibility tests are required in CI")
        pytest.skip(message)
    return AXE.read_text()


@pytest.fixture
def checker(browser: Browser, axe_source: str) -> Iterator[Any]:
    """check(page, name): runs axe at both widths and records what it finds."""
    found: dict[str, list[dict[str, Any]]] = {}

    def check(page: Page, name: str) -> None:
        for size in (DESKTOP, MOBILE):
            page.set_viewport_size(size)
            if not page.evaluate("typeof window.axe !== 'undefined'"):
                page.add_script_tag(content=axe_source)
            violations = page.evaluate(RUN_AXE)
            if violations:
                found[f"{name} at {size['width']} px"] = violations
        page.set_viewport_size(DESKTOP)

    yield check
    assert found == {}, found


@pytest.fixture
def a11y_page(browser: Browser) -> Iterator[Page]:
    # The test injects axe as an inline script, which the pages' own CSP rightly refuses.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def jobs_in_every_state(live_app: LiveApp, user: TestUser) -> dict[str, str]:
    """Done (image and video), failed, canceled and one left running: the caller keeps image
    generation slow while it looks."""
    knobs = live_app.emulator.settings
    with live_app.client(user) as api:
        upload = api.post("/api/v1/uploads", files={"file": ("ref.png", image_bytes())}).json()
        image = api.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Amber perfume bottle"}
        ).json()
        video = api.post(
            "/api/v1/jobs",
            json={
                "type": "image-to-video",
                "prompt": "The bottle turns slowly",
                "source_upload_id": upload["id"],
            },
        ).json()
        for job in (image, video):
            assert live_app.wait_job(api, job["id"])["status"] == "completed"
        knobs.image_duration_s = 60
        failing = api.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Rejected poster"}
        ).json()
        deadline = time.monotonic() + 20
        while not api.get(f"/api/v1/jobs/{failing['id']}").json()["task_id"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        task = api.get(f"/api/v1/jobs/{failing['id']}").json()["task_id"]
        live_app.emulator.force_fail(task, "422", "Prompt contains prohibited content")
        assert live_app.wait_job(api, failing["id"])["status"] == "failed"
        canceled = api.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Canceled flyer"}
        ).json()
        api.post(f"/api/v1/jobs/{canceled['id']}/cancel")
        running = api.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Still running banner"}
        ).json()
    return {
        "image": image["id"],
        "video": video["id"],
        "failed": failing["id"],
        "canceled": canceled["id"],
        "running": running["id"],
    }


def test_every_page_has_no_accessibility_violation(
    live_app: LiveApp, a11y_page: Page, checker: Any
) -> None:
    page, base = a11y_page, live_app.base_url
    user = live_app.user(credits=6)
    with live_app.db.session() as session:
        owner = session.get(User, user.id)
        assert owner is not None
        reset = f"/reset-password?token={resets.issue(session, owner)}"
    for path in ("/signup", "/login", "/forgot-password", reset, "/no-such-page"):
        page.goto(f"{base}{path}")
        checker(page, path.split("?")[0])

    knobs = live_app.emulator.settings
    before = knobs.image_duration_s
    try:
        ids = jobs_in_every_state(live_app, user)
        log_in(page, live_app, user)
        check_signed_in_pages(live_app, page, checker, ids)
    finally:
        knobs.image_duration_s = before


def check_signed_in_pages(live_app: LiveApp, page: Page, checker: Any, ids: dict[str, str]) -> None:
    base = live_app.base_url
    for type_name in ("text-to-image", "image-to-image", "text-to-video", "image-to-video"):
        page.goto(f"{base}/generate/{type_name}")
        checker(page, f"generate {type_name}")
    page.goto(f"{base}/library")
    checker(page, "library")
    for state, job_id in ids.items():
        page.goto(f"{base}/jobs/{job_id}")
        checker(page, f"job page ({state})")
    page.get_by_role("button", name="Queue").click()
    page.locator("#queue-drawer .queue-item").first.wait_for()
    checker(page, "queue drawer")
    page.goto(f"{base}/settings/api-keys")
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    page.locator("#new-key").wait_for()
    checker(page, "api keys")
    page.goto(f"{base}/brand")
    checker(page, "brand kit")
    page.goto(f"{base}/credits")
    checker(page, "credits")
    page.goto(f"{base}/jobs/{ids['image']}")
    page.get_by_label("Headline", exact=True).fill("Amber, bottled")
    page.get_by_role("button", name="Render").click()
    page.locator("#rendition-list .rendition-item").first.wait_for()
    page.get_by_label("Show safe zones").check()
    checker(page, "job page (a rendition, safe zones shown)")


def test_share_link_pages_have_no_accessibility_violation(
    live_app: LiveApp, a11y_page: Page, checker: Any
) -> None:
    """The owner's Share link… panel with a new link, and what a stranger opens: an image, a
    video, a pack with one result still being made, and a link that no longer works."""
    page, base = a11y_page, live_app.base_url
    user = live_app.user(credits=8)
    with live_app.client(user) as api:
        pack = api.post(
            "/api/v1/packs",
            json={"type": "text-to-image", "prompt": "Sun cream", "placements": ["feed", "link"]},
        ).json()
        image, video = (
            api.post("/api/v1/jobs", json={"type": type_name, "prompt": "Sun cream"}).json()
            for type_name in ("text-to-image", "text-to-video")
        )
        for job in (image, video, *pack["jobs"]):
            assert live_app.wait_job(api, job["id"])["status"] == "completed"
        live_app.emulator.settings.image_duration_s = 60
        running = api.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Later"})
        with live_app.db.session() as session:
            later = session.get_one(Job, running.json()["id"])
            later.pack_id, later.placement, later.variant = pack["id"], "story", 1
        urls = {
            name: api.post("/api/v1/shares", json=body).json()["url"]
            for name, body in (
                ("image", {"job_id": image["id"]}),
                ("video", {"job_id": video["id"]}),
                ("pack", {"pack_id": pack["id"]}),
                ("revoked", {"job_id": image["id"]}),
            )
        }
        revoked = api.get("/api/v1/shares", params={"job_id": image["id"]}).json()["items"][0]
        assert api.delete(f"/api/v1/shares/{revoked['id']}").status_code == 204
        api.post(f"/api/v1/jobs/{running.json()['id']}/cancel")
    for name, url in urls.items():
        page.goto(url)
        checker(page, f"share page ({name})")
    log_in(page, live_app, user)
    page.goto(f"{base}/jobs/{image['id']}")
    page.get_by_text("Share link…").click()
    page.get_by_role("button", name="Create link").click()
    page.get_by_label("New share link").wait_for()
    checker(page, "job page share panel")


def test_admin_pages_have_no_accessibility_violation(
    live_app: LiveApp, a11y_page: Page, checker: Any
) -> None:
    """Every /admin page with something on it: users, a user's page with its ledger, a refused
    take-back and a reset link, jobs (one failed), a job, models (one paused), spend, webhooks."""
    page, base = a11y_page, live_app.base_url
    admin, user = live_app.user(credits=0), live_app.user(credits=4)
    with live_app.db.session() as session:
        session.get_one(User, admin.id).is_admin = True
        session.add(
            WebhookEndpoint(
                user_id=user.id,
                url="https://hooks.example.com/image2ad",
                events=["job.completed"],
                secret="whsec_test",
                disabled_at=utcnow(),
                disabled_reason="It answered 410 Gone.",
            )
        )
    knobs = live_app.emulator.settings
    before = knobs.image_duration_s
    try:
        ids = jobs_in_every_state(live_app, user)
    finally:
        knobs.image_duration_s = before
    paused = live_app.app.state.runtime.catalog.models("text-to-video")[-1]
    with live_app.db.session() as session:
        now = utcnow()
        session.add(
            ModelStatus(
                provider_model=paused.provider_model,
                api=paused.api,
                kind="paused",
                reason="This interface is temporarily paused.",
                since=now,
                checked_at=now,
                next_check_at=now,
            )
        )
    log_in(page, live_app, admin)
    for path, name in (
        ("/admin/users", "admin users"),
        (f"/admin/users/{user.id}", "admin user"),
        ("/admin/jobs", "admin jobs"),
        (f"/admin/jobs/{ids['failed']}", "admin job (failed)"),
        ("/admin/models", "admin models"),
        ("/admin/spend?since=1d", "admin spend"),
        ("/admin/webhooks", "admin webhooks"),
    ):
        page.goto(f"{base}{path}")
        checker(page, name)
    page.goto(f"{base}/admin/users/{user.id}")
    page.get_by_label("Credits", exact=True).fill("99")
    page.get_by_label("Reason").fill("Too much")
    page.get_by_role("button", name="Take back").click()
    page.locator("#admin-error").wait_for()
    checker(page, "admin user (a refused take-back)")
    page.get_by_role("button", name="Make a password reset link").click()
    page.locator("#reset-url").wait_for()
    checker(page, "admin user (a reset link)")
