"""Floods get 429 with Retry-After; a user's unfinished jobs are capped (S14)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Flash sale banner"}


@pytest.fixture
def tight(live_app: LiveApp) -> Iterator[LiveApp]:
    settings = live_app.app.state.runtime.settings
    saved = (settings.job_rate_limit, settings.api_rate_limit, settings.max_active_jobs)
    yield live_app
    settings.job_rate_limit, settings.api_rate_limit, settings.max_active_jobs = saved


def test_job_creation_flood_gets_429_with_retry_after(tight: LiveApp) -> None:
    tight.app.state.runtime.settings.job_rate_limit = "3/minute"
    user = tight.user(credits=10)
    with tight.client(user) as client:
        statuses = [client.post("/api/v1/jobs", json=BODY).status_code for _ in range(5)]
        assert statuses == [202, 202, 202, 429, 429]
        limited = client.post("/api/v1/jobs", json=BODY)
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert client.get("/api/v1/me").json()["credits"] == 7
    other = tight.user()
    with tight.client(other) as client:
        assert client.post("/api/v1/jobs", json=BODY).status_code == 202  # per user


def test_api_flood_gets_429(tight: LiveApp) -> None:
    tight.app.state.runtime.settings.api_rate_limit = "5/second"
    user = tight.user()
    with tight.client(user) as client:
        statuses = [client.get("/api/v1/me").status_code for _ in range(8)]
    assert statuses.count(429) >= 2 and 500 not in statuses


def test_unfinished_jobs_are_capped_per_user(tight: LiveApp) -> None:
    tight.app.state.runtime.settings.max_active_jobs = 2
    tight.emulator.settings.image_duration_s = 30
    user = tight.user(credits=5)
    try:
        with tight.client(user) as client:
            first = [client.post("/api/v1/jobs", json=BODY) for _ in range(2)]
            assert [r.status_code for r in first] == [202, 202]
            third = client.post("/api/v1/jobs", json=BODY)
            assert third.status_code == 429
            assert third.json()["error"]["code"] == "too_many_active_jobs"
            assert third.headers["Retry-After"]
            assert client.get("/api/v1/me").json()["credits"] == 3
            for job in first:
                client.post(f"/api/v1/jobs/{job.json()['id']}/cancel")
    finally:
        tight.emulator.settings.image_duration_s = 0.6
    assert_ledger_invariants(tight.db, user.id)
