"""`/api/v1/webhooks`: add (secret once), list (no secrets), delete, the cap, URL checks, and
404 for anything not yours; over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import base64

import pytest

from image2ad.models import WebhookEndpoint
from tests.fixtures.live_app import LiveApp
from tests.webhooks.helpers import add_endpoint, finished_job, wait_deliveries
from tests.webhooks.receiver import receiver


def test_add_list_and_delete(hooks: LiveApp) -> None:
    user = hooks.user()
    with hooks.client(user) as client:
        created = add_endpoint(
            client, "https://hooks.example.com/image2ad", ["job.completed", "job.completed"]
        )
        assert set(created) == {
            "id", "url", "events", "secret", "created_at", "state", "disabled_at",
            "disabled_reason",
        }  # fmt: skip
        assert created["events"] == ["job.completed"]
        assert created["state"] == "active"
        assert created["secret"].startswith("whsec_")
        assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
        listed = client.get("/api/v1/webhooks")
        assert listed.status_code == 200
        assert [e["id"] for e in listed.json()["items"]] == [created["id"]]
        assert created["secret"] not in listed.text and "secret" not in listed.json()["items"][0]
        with hooks.db.session(read_only=True) as session:
            assert session.get_one(WebhookEndpoint, created["id"]).secret == created["secret"]
        assert client.delete(f"/api/v1/webhooks/{created['id']}").status_code == 204
        assert client.get("/api/v1/webhooks").json()["items"] == []
        assert client.delete(f"/api/v1/webhooks/{created['id']}").status_code == 404


def test_bad_bodies_are_422(hooks: LiveApp) -> None:
    with hooks.client(hooks.user()) as client:
        for body in (
            {"url": "https://hooks.example.com/", "events": []},
            {"url": "https://hooks.example.com/", "events": ["job.started"]},
            {"url": "ftp://hooks.example.com/", "events": ["job.failed"]},
            {"url": "https://user:pw@hooks.example.com/", "events": ["job.failed"]},
            {"url": "https://hooks.example.com/", "events": ["job.failed"], "extra": 1},
        ):
            response = client.post("/api/v1/webhooks", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://localhost/hooks",
        "http://hooks.example.com/plain-http",
    ],
)
def test_private_or_plain_http_urls_are_refused_without_the_flag(
    live_app: LiveApp, url: str
) -> None:
    assert not live_app.app.state.runtime.settings.webhooks.allow_private
    with live_app.client(live_app.user()) as client:
        response = client.post("/api/v1/webhooks", json={"url": url, "events": ["job.failed"]})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == "url"
        assert client.get("/api/v1/webhooks").json()["items"] == []


def test_a_private_endpoint_is_never_called_once_the_flag_is_off(live_app: LiveApp) -> None:
    """An endpoint added while private addresses were allowed: each send checks the address
    again as it connects, so turning the flag off stops the deliveries before any connection."""
    runtime = live_app.app.state.runtime
    saved = runtime.settings.webhooks
    user = live_app.user()
    with receiver() as hook, live_app.client(user) as client:
        runtime.settings.webhooks = saved.model_copy(update={"allow_private": True})
        endpoint = add_endpoint(client, hook.url, ["job.completed"])
        runtime.settings.webhooks = saved.model_copy(update={"retry_delays_s": [0.2]})
        try:
            finished_job(live_app, client)
            items = wait_deliveries(
                client, endpoint["id"], lambda items: items and items[0]["state"] == "failed"
            )
        finally:
            runtime.settings.webhooks = saved
        assert items[0]["attempts"] == 2 and items[0]["last_status"] is None
        assert "Refused" in items[0]["last_error"]
        assert hook.requests == []


def test_at_most_ten_endpoints(hooks: LiveApp) -> None:
    with hooks.client(hooks.user()) as client:
        for n in range(10):
            add_endpoint(client, f"https://hooks.example.com/{n}", ["job.failed"])
        response = client.post(
            "/api/v1/webhooks",
            json={"url": "https://hooks.example.com/11", "events": ["job.failed"]},
        )
        assert response.status_code == 409
        assert len(client.get("/api/v1/webhooks").json()["items"]) == 10


def test_someone_elses_endpoint_is_404(hooks: LiveApp) -> None:
    owner, stranger = hooks.user(), hooks.user()
    with receiver() as hook, hooks.client(owner) as mine, hooks.client(stranger) as theirs:
        endpoint = add_endpoint(mine, hook.url, ["job.completed"])
        finished_job(hooks, mine)
        delivered = wait_deliveries(
            mine, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
        )[0]
        base = f"/api/v1/webhooks/{endpoint['id']}"
        assert theirs.get("/api/v1/webhooks").json()["items"] == []
        assert theirs.get(f"{base}/deliveries").status_code == 404
        assert theirs.post(f"{base}/deliveries/{delivered['id']}/redeliver").status_code == 404
        assert theirs.delete(base).status_code == 404
        # A delivery id of another endpoint, even the stranger's own, does not pass either.
        their_endpoint = add_endpoint(theirs, hook.url, ["job.failed"])
        other = f"/api/v1/webhooks/{their_endpoint['id']}/deliveries/{delivered['id']}/redeliver"
        assert theirs.post(other).status_code == 404
        assert len(mine.get(f"{base}/deliveries").json()["items"]) == 1
        assert len(hook.requests) == 1
