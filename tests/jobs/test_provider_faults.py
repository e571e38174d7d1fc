"""Provider faults (R10-R17) and hostile callbacks (S11), against the live app and emulator."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from dbos import DBOS

from image2ad.links import LinkSigner
from image2ad.models import Job, UsageEvent
from image2ad.models.base import utcnow
from image2ad.providers.kie.callbacks import sign
from tests.fixtures.emulator import wait_until
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
    with live_app.client(user) as client:
        job = client.post("/api/v1/jobs", json=BODY).json()
        live_app.emulator.force_fail(wait_task(live_app, client, job["id"]), fail_code, message)
        done = live_app.wait_job(client, job["id"])
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
    with live_app.client(user) as client:
        job_id = client.post("/api/v1/jobs", json=BODY).json()["id"]
        task_id = wait_task(live_app, client, job_id)
        # Make the poller due at the same moment as the callbacks.
        with live_app.db.session() as session:
            session.execute(sa.update(Job).where(Job.id == job_id).values(next_check_at=utcnow()))
        live_app.emulator.force_success(task_id)
        answers = deliver_copies(live_app, client, job_id, task_id)
        done = live_app.wait_job(client, job_id)
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
    with live_app.client(user) as client:
        job_id = client.post("/api/v1/jobs", json=BODY).json()["id"]
        task_id = wait_task(live_app, client, job_id)
        # Kie answers no recordInfo until every copy was answered, so the first copy's check
        # is still waiting when the others land, however slow the machine.
        emulator.hold_queries = True
        before = emulator.queries[task_id]
        emulator.force_success(task_id)
        answers = deliver_copies(live_app, client, job_id, task_id)
        emulator.hold_queries = False
        done = live_app.wait_job(client, job_id)
    confirmations = emulator.queries[task_id] - before
    assert answers == [200] * 16
    assert done["status"] == "completed"
    # One check for the 16 copies; a due poll of the sweeper may add one more. Other jobs'
    # recordInfo calls are not counted: the live app is shared.
    assert 1 <= confirmations <= 2, confirmations


# Where a trial lands its cancel on a job whose download is held by the emulator: while it is
# held (cancel must win), together with its release or as soon as the file was served (true
# races), and once the job completed (completion must win).
LANDINGS = ("held", "release", "served", "completed")
TRIALS = 16


def finish_ended(job_id: str) -> bool:
    runs = DBOS.list_workflows(
        workflow_id_prefix=f"finish-{job_id}", load_input=False, load_output=False
    )
    return bool(runs) and all(run.status in ("SUCCESS", "ERROR", "CANCELLED") for run in runs)


def stored_files(live_app: LiveApp, user_id: str, job_id: str) -> list[str]:
    """Every file (partial ones too) the job's result left in local storage."""
    path = live_app.app.state.runtime.storage.local_path(f"results/{user_id}/text-to-image")
    folder = Path(path)
    return sorted(p.name for p in folder.glob(f"*{job_id}*")) if folder.exists() else []


def cancel_during_finish(
    live_app: LiveApp,
    client: httpx.Client,
    pool: concurrent.futures.ThreadPoolExecutor,
    user_id: str,
    landing: str,
) -> str:
    """One trial: a job whose download is held, a cancel landed at `landing`; its outcome."""
    emulator = live_app.emulator
    emulator.hold_results = True
    job_id = client.post("/api/v1/jobs", json=BODY).json()["id"]
    task_id = wait_task(live_app, client, job_id)
    cancel_url = f"/api/v1/jobs/{job_id}/cancel"
    emulator.force_success(task_id)
    wait_until(lambda: task_id in emulator.held_results, timeout=20)
    if landing == "held":
        cancel = client.post(cancel_url)
        emulator.hold_results = False
    elif landing == "release":
        start = threading.Barrier(2)

        def release() -> None:
            start.wait()
            emulator.hold_results = False

        def cancel_now() -> httpx.Response:
            start.wait()
            return client.post(cancel_url)

        released, answer = pool.submit(release), pool.submit(cancel_now)
        released.result()
        cancel = answer.result()
    elif landing == "served":
        emulator.hold_results = False
        wait_until(lambda: task_id in emulator.served_results, timeout=20)
        cancel = client.post(cancel_url)
    else:
        emulator.hold_results = False
        assert live_app.wait_job(client, job_id)["status"] == "completed"
        cancel = client.post(cancel_url)
    # The finish workflow has nothing left to do (it may still be cleaning up after a cancel).
    wait_until(lambda: finish_ended(job_id), timeout=30)
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    files = stored_files(live_app, user_id, job_id)
    if job["status"] == "completed":
        assert cancel.status_code == 409, (landing, cancel.text)
        assert job["credits_refunded"] == 0 and job["result_path"]
        assert files == [Path(job["result_path"]).name], (landing, files)
        assert client.get(f"/api/v1/jobs/{job_id}/result").status_code == 200
    else:
        assert job["status"] == "canceled", (landing, job)
        assert cancel.status_code == 200, (landing, cancel.text)
        assert job["credits_refunded"] == 1 and job["result_path"] is None
        assert files == [], (landing, files)
    return str(job["status"])


def test_cancel_racing_a_success_leaves_one_consistent_state(live_app: LiveApp) -> None:
    """R16: a cancel landing at each point of a finishing job ends it exactly one way."""
    user = live_app.user(credits=TRIALS)
    live_app.emulator.settings.image_duration_s = 30
    outcomes: Counter[tuple[str, str]] = Counter()
    with live_app.client(user) as client, concurrent.futures.ThreadPoolExecutor(2) as pool:
        for trial in range(TRIALS):
            landing = LANDINGS[trial % len(LANDINGS)]
            outcomes[landing, cancel_during_finish(live_app, client, pool, user.id, landing)] += 1
    print("cancel race outcomes:", dict(outcomes))
    assert outcomes["held", "canceled"] == TRIALS // len(LANDINGS), outcomes
    assert outcomes["completed", "completed"] == TRIALS // len(LANDINGS), outcomes
    completed = sum(n for (_, status), n in outcomes.items() if status == "completed")
    with live_app.client(user) as client:
        assert client.get("/api/v1/me").json()["credits"] == TRIALS - completed
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


def test_signed_links_expire_and_name_one_object() -> None:
    """S8: an expired, altered or re-targeted link is refused."""
    signer = LinkSigner("k" * 32, ttl_s=900)
    token = signer.sign("job-1", "results/u/text-to-image/job-1-1.png")
    target = signer.verify(token)
    assert target is not None and target.names("results/u/text-to-image/job-1-1.png")
    assert not target.names("results/u/text-to-image/job-1-2.png")
    assert LinkSigner("k" * 32, ttl_s=-1).verify(token) is None  # past its lifetime
    assert LinkSigner("other-key" * 4, ttl_s=900).verify(token) is None
    assert signer.verify(token[:-3] + "abc") is None
