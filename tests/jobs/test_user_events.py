"""GET /api/v1/events: one stream of all of a user's unfinished work, for the queue drawer."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Citrus soda can, studio light"}


def read_events(client: httpx.Client) -> list[tuple[str, Any, str | None]]:
    """Every (event, data, retry) until the server closes the stream."""
    events: list[tuple[str, Any, str | None]] = []
    fields: dict[str, str] = {}
    with client.stream("GET", "/api/v1/events", timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line == "":
                if "data" in fields:
                    event = (fields.get("event", "message"), json.loads(fields["data"]))
                    events.append((*event, fields.get("retry")))
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.strip()
    return events


def test_an_idle_user_gets_an_empty_queue_and_a_closed_stream(live_app: LiveApp) -> None:
    with live_app.client(live_app.user()) as client:
        assert read_events(client) == [("queue", {"items": [], "next_cursor": None}, "5000")]


def test_the_queue_follows_jobs_to_their_end_and_shows_only_the_owners(
    live_app: LiveApp,
) -> None:
    owner, stranger = live_app.user(credits=2), live_app.user()
    with live_app.client(owner) as client:
        made = [client.post("/api/v1/jobs", json=BODY).json()["id"] for _ in range(2)]
        events = read_events(client)
    queues = [data["items"] for name, data, _ in events if name == "queue"]
    ended = [data for name, data, _ in events if name == "job"]
    # Oldest first, every unfinished job, until none is left.
    assert [job["id"] for job in queues[0]] == made
    assert queues[-1] == []
    assert sorted(job["id"] for job in ended) == sorted(made)
    assert {job["status"] for job in ended} == {"completed"}
    with live_app.client(stranger) as client:
        assert read_events(client) == [("queue", {"items": [], "next_cursor": None}, "5000")]
