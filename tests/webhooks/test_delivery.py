"""Deliveries end to end: a real job ends, the event arrives signed per Standard Webhooks at a
loopback receiver; failures are retried on the schedule, 410 and a spent schedule disable the
endpoint, redelivery keeps the event id; over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from dbos import DBOS
from standardwebhooks import Webhook

from image2ad.models import WebhookDelivery, WebhookEvent
from tests.fixtures.live_app import LiveApp
from tests.webhooks.conftest import FAST_DELAYS
from tests.webhooks.helpers import add_endpoint, body_of, finished_job, wait_deliveries
from tests.webhooks.receiver import receiver


def test_job_completed_arrives_signed(hooks: LiveApp) -> None:
    user = hooks.user()
    with receiver() as hook, hooks.client(user) as client:
        endpoint = add_endpoint(client, hook.url, ["job.completed"])
        job = finished_job(hooks, client)
        assert job["status"] == "completed"
        (got,) = hook.wait_for(1, timeout=10)
        event = Webhook(endpoint["secret"]).verify(got.body, got.headers)
        assert event["type"] == "job.completed"
        assert event["data"]["id"] == job["id"]
        now = client.get(f"/api/v1/jobs/{job['id']}").json()
        # The job as GET /jobs/{id} shows it; only the freshly signed links differ.
        signed = {"result_url", "poster_url"}
        assert {k: v for k, v in event["data"].items() if k not in signed} == {
            k: v for k, v in now.items() if k not in signed
        }
        assert event["data"]["result_url"].startswith("/api/v1/files/")
        # The signature is v1,<base64 HMAC-SHA256 of "id.timestamp.body"> under the secret.
        key = base64.b64decode(endpoint["secret"].removeprefix("whsec_"))
        signed_text = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}."
        mac = hmac.new(key, signed_text.encode() + got.body, hashlib.sha256).digest()
        assert got.headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
        assert got.headers["webhook-id"].startswith("msg_")
        assert got.headers["content-type"] == "application/json"
        (logged,) = wait_deliveries(
            client, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
        )
        assert logged["event_id"] == got.headers["webhook-id"]
        assert (logged["type"], logged["attempts"], logged["last_status"]) == (
            "job.completed",
            1,
            200,
        )
        assert logged["delivered_at"] is not None and logged["next_attempt_at"] is None


def test_job_failed_and_job_canceled(hooks: LiveApp) -> None:
    user = hooks.user()
    with receiver() as hook, hooks.client(user) as client:
        endpoint = add_endpoint(client, hook.url, ["job.failed", "job.canceled"])
        hooks.emulator.settings.failure_rate = 1.0
        failed = finished_job(hooks, client, "fails")
        hooks.emulator.settings.failure_rate = 0.0
        assert failed["status"] == "failed"
        created = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "stop"})
        canceled = client.post(f"/api/v1/jobs/{created.json()['id']}/cancel").json()
        assert canceled["status"] == "canceled"
        # A completed job is not among this endpoint's events.
        finished_job(hooks, client, "completes")
        received = hook.wait_for(2)
        events = {
            body_of(r)["data"]["id"]: Webhook(endpoint["secret"]).verify(r.body, r.headers)
            for r in received
        }
        assert {e["type"] for e in events.values()} == {"job.failed", "job.canceled"}
        assert events[failed["id"]]["type"] == "job.failed"
        assert events[failed["id"]]["data"]["error"]["code"] == failed["error"]["code"]
        assert events[canceled["id"]]["type"] == "job.canceled"
        wait_deliveries(
            client,
            endpoint["id"],
            lambda items: len(items) == 2 and all(i["state"] == "delivered" for i in items),
        )
        assert len(hook.requests) == 2


def test_a_failing_receiver_gets_retries_on_the_schedule(hooks: LiveApp) -> None:
    user = hooks.user()
    with receiver([500, 503, 200]) as hook, hooks.client(user) as client:
        endpoint = add_endpoint(client, hook.url, ["job.completed"])
        finished_job(hooks, client)
        received = hook.wait_for(3)
        assert len({r.headers["webhook-id"] for r in received}) == 1
        gaps = [b.at - a.at for a, b in itertools.pairwise(received)]
        assert all(gap >= delay for gap, delay in zip(gaps, FAST_DELAYS, strict=True)), gaps
        for r in received:
            Webhook(endpoint["secret"]).verify(r.body, r.headers)
        (logged,) = wait_deliveries(
            client, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
        )
        assert (logged["attempts"], logged["last_status"]) == (3, 200)
        state = client.get("/api/v1/webhooks").json()["items"][0]
        assert state["state"] == "active"


def test_a_spent_schedule_disables_the_endpoint(hooks: LiveApp) -> None:
    user = hooks.user()
    with receiver([500]) as hook, hooks.client(user) as client:
        endpoint = add_endpoint(client, hook.url, ["job.completed"])
        finished_job(hooks, client)
        (logged,) = wait_deliveries(
            client, endpoint["id"], lambda items: items and items[0]["state"] == "failed"
        )
        assert len(hook.requests) == len(FAST_DELAYS) + 1 == logged["attempts"]
        assert logged["last_status"] == 500 and logged["last_error"] == "HTTP 500: answer 500"
        (state,) = client.get("/api/v1/webhooks").json()["items"]
        assert state["state"] == "disabled"
        assert "No delivery succeeded" in state["disabled_reason"]
        # Nothing more goes to a disabled endpoint, and it cannot be redelivered to.
        finished_job(hooks, client)
        again = client.post(
            f"/api/v1/webhooks/{endpoint['id']}/deliveries/{logged['id']}/redeliver"
        )
        assert again.status_code == 409
        assert len(hook.requests) == len(FAST_DELAYS) + 1


def test_410_gone_disables_at_once(hooks: LiveApp) -> None:
    user = hooks.user()
    with receiver([410]) as hook, hooks.client(user) as client:
        endpoint = add_endpoint(client, hook.url, ["job.completed"])
        finished_job(hooks, client)
        (logged,) = wait_deliveries(
            client, endpoint["id"], lambda items: items and items[0]["state"] == "failed"
        )
        assert (logged["attempts"], logged["last_status"]) == (1, 410)
        (state,) = client.get("/api/v1/webhooks").json()["items"]
        assert state["state"] == "disabled" and "410" in state["disabled_reason"]
        assert len(hook.requests) == 1


def test_redeliver_sends_the_same_event_id(hooks: LiveApp) -> None:
    user = hooks.user()
    with receiver() as hook, hooks.client(user) as client:
        endpoint = add_endpoint(client, hook.url, ["job.completed"])
        finished_job(hooks, client)
        (first,) = wait_deliveries(
            client, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
        )
        response = client.post(
            f"/api/v1/webhooks/{endpoint['id']}/deliveries/{first['id']}/redeliver"
        )
        assert response.status_code == 202
        again = response.json()
        assert again["id"] != first["id"] and again["event_id"] == first["event_id"]
        received = hook.wait_for(2)
        assert [r.headers["webhook-id"] for r in received] == [first["event_id"]] * 2
        first_body, second_body = body_of(received[0]), body_of(received[1])
        # The event's own time and type; the signature's timestamp is each send's.
        assert (first_body["type"], first_body["timestamp"]) == (
            second_body["type"],
            second_body["timestamp"],
        )
        items = wait_deliveries(
            client,
            endpoint["id"],
            lambda items: len(items) == 2 and all(i["state"] == "delivered" for i in items),
        )
        assert [i["id"] for i in items] == [again["id"], first["id"]]
        with hooks.db.session(read_only=True) as session:
            count = session.scalar(
                sa.select(sa.func.count()).where(WebhookEvent.user_id == user.id)
            )
        assert count == 1


def test_credits_low_when_a_charge_crosses_the_threshold(hooks: LiveApp) -> None:
    threshold = hooks.app.state.runtime.settings.credits_low_threshold
    user = hooks.user(credits=threshold + 1)
    with receiver() as hook, hooks.client(user) as client:
        endpoint = add_endpoint(client, hook.url, ["credits.low"])
        finished_job(hooks, client, "one")  # leaves the threshold itself: not below it
        finished_job(hooks, client, "two")  # below it
        finished_job(hooks, client, "three")  # still below: no second warning
        (got,) = hook.wait_for(1)
        event = Webhook(endpoint["secret"]).verify(got.body, got.headers)
        assert event["type"] == "credits.low"
        assert event["data"] == {"credits": threshold - 1, "threshold": threshold}
        wait_deliveries(
            client, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
        )
        assert len(hook.requests) == 1


def test_a_delivery_whose_workflow_ended_early_gets_a_new_one(hooks: LiveApp) -> None:
    """A workflow that ends with its delivery still pending (here: canceled in its pause) would
    strand the event; the relay finds the overdue delivery and starts its next workflow
    attempt, which goes on with the schedule where the row left it."""
    runtime = hooks.app.state.runtime
    runtime.settings.webhooks = runtime.settings.webhooks.model_copy(
        update={"retry_delays_s": [600.0, 600.0]}
    )
    user = hooks.user()
    with receiver([500, 200]) as hook, hooks.client(user) as client:
        endpoint = add_endpoint(client, hook.url, ["job.completed"])
        finished_job(hooks, client)
        (waiting,) = wait_deliveries(
            client, endpoint["id"], lambda items: items and items[0]["attempts"] == 1
        )
        assert waiting["state"] == "pending" and waiting["next_attempt_at"] is not None
        first = f"webhook-{waiting['id']}"
        DBOS.cancel_workflow(first)
        with hooks.db.session() as session:
            session.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id == waiting["id"])
                .values(next_attempt_at=datetime.now(UTC) - timedelta(minutes=5))
            )
        (logged,) = wait_deliveries(
            client, endpoint["id"], lambda items: items and items[0]["state"] == "delivered"
        )
        assert (logged["attempts"], logged["last_status"]) == (2, 200)
        received = hook.wait_for(2)
        assert len({r.headers["webhook-id"] for r in received}) == 1
        assert DBOS.get_workflow_status(first).status == "CANCELLED"
        assert DBOS.get_workflow_status(f"{first}-1").status == "SUCCESS"
        with hooks.db.session(read_only=True) as session:
            assert session.get_one(WebhookDelivery, waiting["id"]).workflow_attempt == 1
