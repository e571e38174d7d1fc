"""A waiting job's place in the shared queue, in headless Chromium: its Library card and its
page say how many jobs are ahead and when it should start, then follow it to the end.

Runs on SQLite. Screenshots go to $IMAGE2AD_SCREENSHOTS when set, else to a temporary folder.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from image2ad.models.base import utcnow
from tests.fixtures.browser import MOBILE
from tests.fixtures.live_app import LiveApp
from tests.jobs.test_fair_queue import _hold_gate, _post
from tests.web.session import log_in
from tests.web.test_credits_browser import shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("live_app", ["sqlite"], indirect=True),
]
QUEUED = re.compile(r"Queued · (next in line|\d+ ahead) · starts in (a few seconds|about \d+ s)")


def test_a_waiting_job_shows_its_place_and_start(
    live_app: LiveApp, page: Page, shots: Path
) -> None:
    other, user = live_app.user(credits=5), live_app.user(credits=3)
    # No send for a while: the first submissions wait at the gate, the rest in the queue.
    _hold_gate(live_app, utcnow() + timedelta(seconds=12))
    with live_app.client(other) as other_client, live_app.client(user) as client:
        others = [_post(other_client, f"Other brand's banner {n}") for n in range(5)]
        # The third is behind at least four jobs (two turns of each user): still queued.
        mine = [_post(client, f"Espresso bar opening, warm light {n}") for n in range(3)]
        log_in(page, live_app, user)
        page.goto(f"{live_app.base_url}/library")
        expect(page.locator("#main [data-stage-text]", has_text=QUEUED).first).to_be_visible()
        shoot(page, shots / "library-queued-desktop.png")
        page.goto(f"{live_app.base_url}/jobs/{mine[-1]}")
        stage = page.locator("#main [data-stage-text]").first
        expect(stage).to_have_text(QUEUED)
        shoot(page, shots / "job-queued-desktop.png")
        page.set_viewport_size(MOBILE)
        page.goto(f"{live_app.base_url}/library")
        expect(page.locator("#main [data-stage-text]", has_text=QUEUED).first).to_be_visible()
        shoot(page, shots / "library-queued-mobile.png")
        page.goto(f"{live_app.base_url}/jobs/{mine[-1]}")
        stage = page.locator("#main [data-stage-text]").first
        expect(stage).to_have_text(QUEUED)
        shoot(page, shots / "job-queued-mobile.png")
        # The page follows the job from its place in the queue to its result.
        expect(stage).to_have_text("Done", timeout=40_000)
        for job_id in others:
            assert live_app.wait_job(other_client, job_id, timeout=40)["status"] == "completed"
        for job_id in mine:
            assert live_app.wait_job(client, job_id, timeout=40)["status"] == "completed"
