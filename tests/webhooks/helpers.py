from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.fixtures.live_app import LiveApp

ALL_EVENTS = ["job.completed", "job.failed", "job.canceled", "credits.low"]


def add_endpoint(client: httpx.Client, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", json={"url": url, "events": events or ALL_EVENTS})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def finished_job(live_app: LiveApp, client: httpx.Client, prompt: str = "ad") -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": prompt})
    assert response.status_code == 202, response.text
    return live_app.wait_job(client, response.json()["id"])


def deliveries(client: httpx.Client, endpoint_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def wait_deliveries(
    client: httpx.Client, endpoint_id: str, done: Any, timeout: float = 15.0
) -> list[dict[str, Any]]:
    """The delivery log once `done(items)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        items = deliveries(client, endpoint_id)
        if done(items):
            return items
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries never settled: {items}")
        time.sleep(0.05)


def body_of(received: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(received.body)
    return data
