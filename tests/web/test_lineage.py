"""Lineage both ways on the job pages: a job made from a result links to it, and the result's
page lists what was made with it (yours only, deleted ones left out)."""

from __future__ import annotations

import pytest

from tests.fixtures.live_app import LiveApp
from tests.web.session import signed_in

pytestmark = pytest.mark.parametrize("live_app", ["sqlite"], indirect=True)


def test_a_result_lists_the_jobs_made_with_it(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with signed_in(live_app, user) as browser:
        browser.page("/library")
        parent = browser.api(
            "POST", "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Lemonade bottle"}
        ).json()
        with live_app.client(user) as client:
            live_app.wait_job(client, parent["id"])
        children = [
            browser.api(
                "POST",
                "/api/v1/jobs",
                json={"type": kind, "prompt": "Make it move", "source_job_id": parent["id"]},
            ).json()
            for kind in ("image-to-video", "image-to-image")
        ]
        page = browser.page(f"/jobs/{parent['id']}").text
        assert 'id="job-children"' in page
        for child in children:
            assert f'href="/jobs/{child["id"]}"' in page
        child_page = browser.page(f"/jobs/{children[0]['id']}").text
        assert f'href="/jobs/{parent["id"]}"' in child_page and "Made from" in child_page
        assert browser.api("DELETE", f"/api/v1/jobs/{children[1]['id']}").status_code == 204
        page = browser.page(f"/jobs/{parent['id']}").text
        assert f'href="/jobs/{children[1]["id"]}"' not in page
        assert f'href="/jobs/{children[0]["id"]}"' in page
