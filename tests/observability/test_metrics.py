"""GET /metrics on the live app: the families, a finished job moving them, and who may scrape."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from image2ad.config import WebhookSettings
from tests.fixtures.live_app import LiveApp
from tests.webhooks.helpers import add_endpoint, finished_job, wait_deliveries
from tests.webhooks.receiver import receiver

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

FAMILIES = {
    "image2ad_jobs",
    "image2ad_queue_depth",
    "image2ad_job_completion_seconds",
    "image2ad_provider_requests",
    "image2ad_provider_pace_wait_seconds",
    "image2ad_webhook_deliveries",
}
# Seen from the app as a client elsewhere: uvicorn believes loopback's X-Forwarded-For.
OUTSIDE = {"X-Forwarded-For": "203.0.113.7"}


def scrape(base_url: str, headers: dict[str, str] | None = None) -> tuple[set[str], Samples]:
    reply = httpx.get(f"{base_url}/metrics", headers=headers or {}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    names: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(reply.text):
        names.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return names, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metrics_token(live_app: LiveApp) -> Iterator[str]:
    settings = live_app.app.state.runtime.settings
    settings.metrics_token = SecretStr("scrape-me-0123456789")
    try:
        yield "scrape-me-0123456789"
    finally:
        settings.metrics_token = None


def test_a_completed_job_moves_the_counters_and_the_histogram(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        # One job first, so that every family has a sample to show.
        first = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Warm"})
        live_app.wait_job(client, first.json()["id"])
        names, before = scrape(live_app.base_url)
        assert names >= FAMILIES

        reply = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Counted"})
        job = live_app.wait_job(client, reply.json()["id"])
    assert job["status"] == "completed"
    _, after = scrape(live_app.base_url)

    done = {"type": "text-to-image", "model": job["model"], "status": "completed"}
    assert (
        value(after, "image2ad_jobs_total", **done)
        >= value(before, "image2ad_jobs_total", **done) + 1
    )
    count = "image2ad_job_completion_seconds_count"
    assert (
        value(after, count, type="text-to-image") >= value(before, count, type="text-to-image") + 1
    )
    # The histogram is cumulative and ends in +Inf, which equals the count.
    inf = value(after, "image2ad_job_completion_seconds_bucket", type="text-to-image", le="+Inf")
    assert inf == value(after, count, type="text-to-image")
    sent = {"operation": "createTask", "outcome": "ok"}
    assert value(after, "image2ad_provider_requests_total", **sent) >= (
        value(before, "image2ad_provider_requests_total", **sent) + 1
    )
    waits = "image2ad_provider_pace_wait_seconds_count"
    assert value(after, waits) >= value(before, waits) + 1
    # Queue depth names every unfinished status, even at zero.
    statuses = {dict(labels)["status"] for name, labels in after if name == "image2ad_queue_depth"}
    assert statuses >= {"pending", "processing"}


def test_loopback_scrapes_freely_others_need_the_token(
    live_app: LiveApp, metrics_token: str
) -> None:
    scrape(live_app.base_url)
    refused = httpx.get(f"{live_app.base_url}/metrics", headers=OUTSIDE)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    wrong = httpx.get(
        f"{live_app.base_url}/metrics", headers=OUTSIDE | {"Authorization": "Bearer wrong"}
    )
    assert wrong.status_code == 401
    names, _ = scrape(live_app.base_url, OUTSIDE | {"Authorization": f"Bearer {metrics_token}"})
    assert "image2ad_jobs" in names


def test_without_a_token_the_endpoint_is_loopback_only(live_app: LiveApp) -> None:
    assert live_app.app.state.runtime.settings.metrics_token is None
    for headers in (OUTSIDE, {"X-Real-IP": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"}):
        reply = httpx.get(f"{live_app.base_url}/metrics", headers=headers)
        assert reply.status_code == 404, headers
        assert "image2ad" not in reply.text


def test_webhook_deliveries_are_counted_by_state(live_app: LiveApp) -> None:
    runtime = live_app.app.state.runtime
    saved = runtime.settings.webhooks
    runtime.settings.webhooks = WebhookSettings(allow_private=True, retry_delays_s=[0.4])
    try:
        _, before = scrape(live_app.base_url)
        user = live_app.user()
        with receiver() as got, live_app.client(user) as client:
            endpoint = add_endpoint(client, got.url, ["job.completed"])
            finished_job(live_app, client, "Hooked")
            wait_deliveries(
                client, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
            )
    finally:
        runtime.settings.webhooks = saved
    _, after = scrape(live_app.base_url)
    delivered = value(after, "image2ad_webhook_deliveries", state="delivered")
    assert delivered >= value(before, "image2ad_webhook_deliveries", state="delivered") + 1


def test_a_metric_that_cannot_be_written_never_fails_the_job(
    live_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from image2ad.observability import events

    def unwritable() -> None:
        raise OSError("No space left on device")

    # Counting runs inside every Kie call and the send gate: both must carry on without it.
    monkeypatch.setattr(events, "_events", unwritable)
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        created = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Kettle"})
        assert created.status_code == 202, created.text
        done = live_app.wait_job(client, created.json()["id"])
    assert done["status"] == "completed", done
