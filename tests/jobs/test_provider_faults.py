"""Provider faults (R10-R17) and hostile callbacks (S11), against the live app and emulator."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest
import sqlalchemy as sa

from image2ad.links import LinkSigner
from image2ad.models import Job, UsageEvent
from image2ad.models.base import utcnow
from image2ad.providers.kie.callbacks import sign
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Espresso machine, chrome, studio light"}


def wait_task(live_app: LiveApp, client: httpx.Client, job_id: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        task_id = client.get(f"/api/v1/jobs/{job_id}").json()["task_id"]
        if task_id:
            return str(task_id)
        time.sleep(0.03)
    raise AssertionError("no task id")


def deliver_copies(
    live_app: LiveApp, client: httpx.Client, job_id: str, task_id: str, copies: int = 16
) -> list[int]:
    """Post the task's success callback `copies` times at once, as a retrying Kie would."""
    with live_app.db.session(read_only=True) as session:
        secret = session.scalar(sa.select(Job.callback_secret).where(Job.id == job_id))
    url = f"/api/v1/callbacks/kie/{job_id}/{secret}"
    body = {"code": 200, "data": {"taskId": task_id, "state": "success"}}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: client.post(url, json=body).status_code, range(copies)))


@pytest.mark.parametrize(
    ("fail_code", "message"),
    [
        ("400", "Your prompt was flagged by the content policy"),
        ("422", "Invalid prompt"),
        ("500", "Internal server error"),
        ("501", "Generation failed"),
        ("", "Image contains faces."),
    ],
)
def test_each_fail_code_fails_once_with_its_message_and_one_refund(
    live_app: LiveApp, fail_code: str, message: str
) -> None:
    user = live_app.user(credits=1)
    live_app.emulator.settings.image_duration_s = 30
    try:
        with live_app.client(user) as client:
            job = client.post("/api/v1/jobs", json=BODY).json()
            live_app.emulator.force_fail(wait_task(live_app, client, job["id"]), fail_code, message)
            done = live_app.wait_job(client, job["id"])
    finally:
        live_app.emulator.settings.image_duration_s = 0.6
    assert done["status"] == "failed" and done["error"]["message"] == message
    assert done["error"]["code"] == (
        f"provider_failed_{fail_code}" if fail_code else "provider_failed"
    )
    assert_ledger_invariants(live_app.db, user.id)


def test_callback_and_poll_seeing_success_together_complete_once(live_app: LiveApp) -> None:
    """R13: a burst of callbacks for one finished task, racing the poller, finishes it once."""
    user = live_app.user()
    live_app.emulator.drop_callbacks = True
    live_app.emulator.settings.image_duration_s = 30
    try:
        with live_app.client(user) as client:
            job_id = client.post("/api/v1/jobs", json=BODY).json()["id"]
            task_id = wait_task(live_app, client, job_id)
            # Make the poller due at the same moment as the callbacks.
            with live_app.db.session() as session:
                session.execute(
                    sa.update(Job).where(Job.id == job_id).values(next_check_at=utcnow())
                )
            live_app.emulator.force_success(task_id)
            answers = deliver_copies(live_app, client, job_id, task_id)
            done = live_app.wait_job(client, job_id)
    finally:
        live_app.emulator.drop_callbacks = False
        live_app.emulator.settings.image_duration_s = 0.6
    assert answers == [200] * 16
    assert done["status"] == "completed"
    with live_app.db.session(read_only=True) as session:
        events = session.scalars(sa.select(UsageEvent).where(UsageEvent.job_id == job_id)).all()
    assert len(events) == 1
    assert_ledger_invariants(live_app.db, user.id)


def test_repeated_callbacks_for_a_job_share_one_check(live_app: LiveApp) -> None:
    """Kie repeats callbacks: copies that arrive while the job's check waits start no more."""
    user = live_app.user()
    emulator = live_app.emulator
    emulator.drop_callbacks = True
    emulator.settings.image_duration_s = 30
    try:
        with live_app.client(user) as client:
            job_id = client.post("/api/v1/jobs", json=BODY).json()["id"]
            task_id = wait_task(live_app, client, job_id)
            emulator.force_success(task_id)
            emulator.settings.latency_s = 0.5  # the check is still waiting when the copies land
            before = emulator.calls["recordInfo"]
            answers = deliver_copies(live_app, client, job_id, task_id)
            done = live_app.wait_job(client, job_id)
            confirmations = emulator.calls["recordInfo"] - before
    finally:
        emulator.settings.latency_s = 0.0
        emulator.drop_callbacks = False
        emulator.settings.image_duration_s = 0.6
    assert answers == [200] * 16
    assert done["status"] == "completed"
    # One check for the 16 copies; a due poll of the sweeper may add one more.
    assert 1 <= confirmations <= 2, confirmations


def test_cancel_racing_a_success_leaves_one_consistent_state(live_app: LiveApp) -> None:
    """R16: cancel and provider success at the same moment, 10 times."""
    user = live_app.user(credits=10)
    live_app.emulator.settings.image_duration_s = 30
    try:
        with live_app.client(user) as client:
            ids = [client.post("/api/v1/jobs", json=BODY).json()["id"] for _ in range(10)]
            tasks = [wait_task(live_app, client, job_id) for job_id in ids]

            def race(pair: tuple[str, str]) -> None:
                job_id, task_id = pair
                with concurrent.futures.ThreadPoolExecutor(2) as pool:
                    pool.submit(live_app.emulator.force_success, task_id)
                    pool.submit(client.post, f"/api/v1/jobs/{job_id}/cancel")

            for pair in zip(ids, tasks, strict=True):
                race(pair)
            jobs = [live_app.wait_job(client, job_id) for job_id in ids]
            time.sleep(1.0)  # late callbacks and checks land
            again = [client.get(f"/api/v1/jobs/{job_id}").json() for job_id in ids]
    finally:
        live_app.emulator.settings.image_duration_s = 0.6
    assert [j["status"] for j in jobs] == [j["status"] for j in again]
    for job in again:
        assert job["status"] in ("canceled", "completed")
        assert (job["result_path"] is None) == (job["status"] == "canceled")
    assert_ledger_invariants(live_app.db, user.id)


def test_signed_callbacks_are_required_when_an_hmac_key_is_set(live_app: LiveApp) -> None:
    """S11: with KIE_WEBHOOK_HMAC_KEY set, unsigned or mis-signed callbacks get 401."""
    key = "whk_test_0123456789"
    rt = live_app.app.state.runtime
    user = live_app.user()
    rt.settings.kie.webhook_hmac_key = key
    live_app.emulator.settings.webhook_hmac_key = key
    try:
        with live_app.client(user) as client:
            job = live_app.wait_job(client, client.post("/api/v1/jobs", json=BODY).json()["id"])
            assert job["status"] == "completed"  # the emulator signs, so real callbacks pass
            with live_app.db.session(read_only=True) as session:
                secret = session.scalar(sa.select(Job.callback_secret).where(Job.id == job["id"]))
            url = f"/api/v1/callbacks/kie/{job['id']}/{secret}"
            body = {"code": 200, "data": {"taskId": job["task_id"]}}
            stamp = str(int(time.time()))
            forged = [
                {},
                {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": "AAAA"},
                {
                    "X-Webhook-Timestamp": stamp,
                    "X-Webhook-Signature": sign("wrong", job["task_id"], stamp),
                },
            ]
            for headers in forged:
                assert client.post(url, json=body, headers=headers).status_code == 401
            good = {
                "X-Webhook-Timestamp": stamp,
                "X-Webhook-Signature": sign(key, job["task_id"], stamp),
            }
            assert client.post(url, json=body, headers=good).status_code == 200
    finally:
        rt.settings.kie.webhook_hmac_key = None
        live_app.emulator.settings.webhook_hmac_key = None


def test_signed_links_expire_and_name_one_object() -> None:
    """S8: an expired, altered or re-targeted link is refused."""
    signer = LinkSigner("k" * 32, ttl_s=900)
    token = signer.sign("job-1", "results/u/text-to-image/job-1-1.png")
    target = signer.verify(token)
    assert target is not None and target.key.endswith("job-1-1.png")
    assert LinkSigner("k" * 32, ttl_s=-1).verify(token) is None  # past its lifetime
    assert LinkSigner("other-key" * 4, ttl_s=900).verify(token) is None
    assert signer.verify(token[:-3] + "abc") is None
