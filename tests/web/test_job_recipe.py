"""The job page's Recipe: what made the result, its SHA-256, and Run again exactly."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from markupsafe import escape
from playwright.sync_api import Page, expect

from image2ad.models import Job
from tests.fixtures.live_app import LiveApp
from tests.web.session import log_in, signed_in


def finished_job(live_app: LiveApp, api: httpx.Client, **placed: Any) -> dict[str, Any]:
    """A completed text-to-image job; `placed` (placement, variant) is set on its row while
    the emulator holds the task, as a pack sets it."""
    live_app.emulator.settings.image_duration_s = 30
    body = {"type": "text-to-image", "prompt": "Lemon soda <fizz>", "aspect_ratio": "1:1"}
    job = api.post("/api/v1/jobs", json=body).json()
    deadline = time.monotonic() + 20
    while not (task_id := api.get(f"/api/v1/jobs/{job['id']}").json()["task_id"]):
        assert time.monotonic() < deadline, "no task id"
        time.sleep(0.05)
    if placed:
        with live_app.db.session() as session:
            session.execute(sa.update(Job).where(Job.id == job["id"]).values(**placed))
    live_app.emulator.force_success(task_id)
    done = live_app.wait_job(api, job["id"])
    assert done["status"] == "completed", done
    return done


def test_recipe_shows_the_placement_variant_and_the_hash_of_the_download(
    live_app: LiveApp,
) -> None:
    user = live_app.user()
    with live_app.client(user) as api:
        job = finished_job(live_app, api, placement="story", variant=2)
        download = api.get(f"/api/v1/jobs/{job['id']}/result").content
    with signed_in(live_app, user) as client:
        page = re.sub(r"\s+", " ", client.page(f"/jobs/{job['id']}").text)
    digest = hashlib.sha256(download).hexdigest()
    assert re.search(f'<code [^>]*id="result-sha256"[^>]*>{digest}</code>', page)
    assert 'data-copy="result-sha256"' in page
    assert '<dt>Placement</dt><dd>Story / Reel <small class="muted">(9:16)</small>' in page
    assert "<dt>Variant</dt><dd>2</dd>" in page
    assert f'<dt>Prompt</dt><dd class="prompt-text">{escape("Lemon soda <fizz>")}</dd>' in page
    assert "<dt>Size</dt><dd>576 \N{MULTIPLICATION SIGN} 1024</dd>" in page
    # Run again would make the same generation without the pack's crop: not offered as exact.
    assert "Run again exactly" not in page


def test_run_again_exactly_makes_the_same_job_through_retry(live_app: LiveApp) -> None:
    user = live_app.user(credits=5)
    with live_app.client(user) as api:
        job = finished_job(live_app, api)
    with signed_in(live_app, user) as client:
        page = re.sub(r"\s+", " ", client.page(f"/jobs/{job['id']}").text)
        button = re.search(r'<button[^>]*data-action="retry"[^>]*>Run again exactly</button>', page)
        assert button is not None
        assert f'data-job-id="{job["id"]}"' in button.group(0)
        assert 'data-cost="1"' in button.group(0)
        again = client.api(
            "POST", f"/api/v1/jobs/{job['id']}/retry", headers={"Idempotency-Key": "again-1"}
        )
    assert again.status_code == 202, again.text
    copy = again.json()
    assert copy["id"] != job["id"]
    for field in ("type", "prompt", "model", "params", "source_upload_id"):
        assert copy[field] == job[field], field


@pytest.mark.browser
@pytest.mark.parametrize("live_app", ["sqlite"], indirect=True)
def test_copy_and_run_again_exactly_in_a_browser(live_app: LiveApp, page: Page) -> None:
    user = live_app.user()
    with live_app.client(user) as api:
        job = finished_job(live_app, api)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, live_app, user)
    page.goto(f"{live_app.base_url}/jobs/{job['id']}")
    copy = page.get_by_role("button", name="Copy the SHA-256")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == job["result_sha256"]
    page.get_by_role("button", name="Run again exactly").click()
    page.wait_for_url(lambda url: "/jobs/" in url and job["id"] not in url)
    expect(page.locator(".recipe .prompt-text")).to_have_text(job["prompt"])
