"""text-to-image end to end over real HTTP: API → DBOS → Kie client → emulator → storage."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import sqlalchemy as sa
from PIL import Image

from image2ad.models import Job, UsageEvent
from image2ad.models.base import utcnow
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

PROMPT = "A red sneaker on wet sand, bold SUMMER SALE headline"


def create(client, **body):  # type: ignore[no-untyped-def]
    payload = {"type": "text-to-image", "prompt": PROMPT, **body}
    return client.post("/api/v1/jobs", json=payload)


def test_job_completes_through_callback_and_result_is_a_png(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with live_app.client(user) as client:
        response = create(client, aspect_ratio="16:9")
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["status"] == "pending" and job["stage"] == "queued"
        assert job["credits_charged"] == 1
        assert client.get("/api/v1/me").json()["credits"] == 2

        done = live_app.wait_job(client, job["id"])
        assert done["status"] == "completed", done
        assert done["task_id"] and done["progress"] == 100
        assert done["result_path"].startswith(f"results/{user.id}/text-to-image/{job['id']}-")
        assert done["result_path"].endswith(".png")
        assert (done["result_width"], done["result_height"]) == (1024, 576)

        result = client.get(f"/api/v1/jobs/{job['id']}/result")
        assert result.status_code == 200
        assert result.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(result.content))
        assert image.format == "PNG" and image.size == (1024, 576)

    # The signed link works without credentials; an altered one does not.
    with live_app.client() as anonymous:
        assert anonymous.get(done["result_url"]).content == result.content
        assert anonymous.get(done["result_url"][:-2] + "xx").status_code == 404

    task = live_app.emulator.tasks[done["task_id"]]
    assert task.callback_url and f"/callbacks/kie/{job['id']}/" in task.callback_url
    with live_app.db.session(read_only=True) as session:
        event = session.scalar(sa.select(UsageEvent).where(UsageEvent.job_id == job["id"]))
        assert event is not None and event.outcome == "completed" and event.credits == 1
        assert event.provider_task_id == done["task_id"] and event.provider_credits_consumed == 4
    assert_ledger_invariants(live_app.db, user.id)


def test_job_completes_by_polling_when_callbacks_never_come(live_app: LiveApp) -> None:
    user = live_app.user()
    live_app.emulator.drop_callbacks = True
    try:
        with live_app.client(user) as client:
            job = create(client, output_format="jpeg").json()
            done = live_app.wait_job(client, job["id"])
    finally:
        live_app.emulator.drop_callbacks = False
    assert done["status"] == "completed"
    assert done["result_path"].endswith(".jpg") and done["result_content_type"] == "image/jpeg"
    assert live_app.emulator.dropped_callbacks
    assert_ledger_invariants(live_app.db, user.id)


def test_duplicate_callbacks_complete_the_job_once(live_app: LiveApp) -> None:
    user = live_app.user()
    live_app.emulator.duplicate_callbacks = 4
    try:
        with live_app.client(user) as client:
            job = create(client).json()
            done = live_app.wait_job(client, job["id"])
            time.sleep(0.5)  # let the duplicate deliveries land
    finally:
        live_app.emulator.duplicate_callbacks = 0
    assert done["status"] == "completed"
    with live_app.db.session(read_only=True) as session:
        events = session.scalars(sa.select(UsageEvent).where(UsageEvent.job_id == job["id"])).all()
        assert len(events) == 1
    assert_ledger_invariants(live_app.db, user.id)


def test_provider_failure_fails_the_job_and_refunds_once(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    live_app.emulator.settings.image_duration_s = 30
    try:
        with live_app.client(user) as client:
            job = create(client).json()
            task_id = _wait_task_id(live_app, client, job["id"])
            live_app.emulator.force_fail(task_id, "400", "Prompt violates the content policy")
            done = live_app.wait_job(client, job["id"])
            assert client.get("/api/v1/me").json()["credits"] == 2
    finally:
        live_app.emulator.settings.image_duration_s = 0.6
    assert done["status"] == "failed"
    assert done["error"] == {
        "code": "provider_failed_400",
        "message": "Prompt violates the content policy",
    }
    assert done["credits_refunded"] == 1
    assert_ledger_invariants(live_app.db, user.id)


def test_withdrawn_model_fails_fast_with_a_refund(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    live_app.emulator.settings.withdrawn_models = frozenset({"google/nano-banana"})
    try:
        with live_app.client(user) as client:
            job = create(client).json()
            done = live_app.wait_job(client, job["id"])
            assert client.get("/api/v1/me").json()["credits"] == 1
    finally:
        live_app.emulator.settings.withdrawn_models = frozenset()
    assert done["status"] == "failed" and done["task_id"] is None
    assert done["error"]["code"] == "provider_feature_disabled"
    assert_ledger_invariants(live_app.db, user.id)


def test_provider_out_of_credits_fails_and_refunds(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    live_app.emulator.out_of_credits = True
    try:
        with live_app.client(user) as client:
            done = live_app.wait_job(client, create(client).json()["id"])
    finally:
        live_app.emulator.out_of_credits = False
    assert done["status"] == "failed" and done["error"]["code"] == "provider_out_of_credits"
    assert "credit was returned" in done["error"]["message"]
    assert_ledger_invariants(live_app.db, user.id)


def test_deadline_fails_a_job_that_never_finishes(live_app: LiveApp) -> None:
    user = live_app.user()
    live_app.emulator.settings.image_duration_s = 600
    try:
        with live_app.client(user) as client:
            job = create(client).json()
            _wait_task_id(live_app, client, job["id"])
            with live_app.db.session() as session:
                session.execute(
                    sa.update(Job)
                    .where(Job.id == job["id"])
                    .values(deadline_at=utcnow() - timedelta(seconds=1))
                )
            done = live_app.wait_job(client, job["id"])
    finally:
        live_app.emulator.settings.image_duration_s = 0.6
    assert done["status"] == "failed" and done["error"]["code"] == "deadline_exceeded"
    assert done["credits_refunded"] == 1
    assert_ledger_invariants(live_app.db, user.id)


def test_accepted_job_whose_workflow_never_started_is_recovered(live_app: LiveApp) -> None:
    """Crash point P1: the job and its charge committed, the process died before enqueueing."""
    from image2ad.jobs import service
    from image2ad.jobs.schemas import JobCreate
    from image2ad.models import User

    user = live_app.user()
    rt = live_app.app.state.runtime
    with live_app.db.session() as session:
        accepted = service.create_job(
            session,
            session.get_one(User, user.id),
            JobCreate(type="text-to-image", prompt=PROMPT),  # type: ignore[arg-type]
            catalog=rt.catalog,
            deadline=timedelta(minutes=5),
        )
        accepted.job.next_check_at = utcnow()
        job_id = accepted.job.id
    with live_app.client(user) as client:
        done = live_app.wait_job(client, job_id)
    assert done["status"] == "completed"
    assert_ledger_invariants(live_app.db, user.id)


def _wait_task_id(live_app: LiveApp, client, job_id: str) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["task_id"]:
            return str(job["task_id"])
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got a task id")
