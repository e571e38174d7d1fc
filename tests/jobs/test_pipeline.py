"""text-to-image end to end over real HTTP: API → DBOS → Kie client → emulator → storage."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from PIL import Image

from image2ad.models import Job, UsageEvent
from image2ad.models.base import utcnow
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

PROMPT = "A red sneaker on wet sand, bold SUMMER SALE headline"


def create(client: httpx.Client, **body: Any) -> httpx.Response:
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
        assert done["result_path"].startswith(f"results/{user.id}/text-to-image/{job['id']}.")
        assert done["result_path"].endswith(".png")
        assert (done["result_width"], done["result_height"]) == (1024, 576)

        result = client.get(f"/api/v1/jobs/{job['id']}/result")
        assert result.status_code == 200
        assert result.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(result.content))
        assert image.format == "PNG" and image.size == (1024, 576)
        assert done["result_sha256"] == hashlib.sha256(result.content).hexdigest()
        assert done["placement"] is None

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
    with live_app.client(user) as client:
        job = create(client, output_format="jpeg").json()
        done = live_app.wait_job(client, job["id"])
    assert done["status"] == "completed"
    assert done["result_path"].endswith(".jpg") and done["result_content_type"] == "image/jpeg"
    assert live_app.emulator.dropped_callbacks
    assert_ledger_invariants(live_app.db, user.id)


def test_duplicate_callbacks_complete_the_job_once(live_app: LiveApp) -> None:
    user = live_app.user()
    emulator = live_app.emulator
    emulator.duplicate_callbacks = 4
    with live_app.client(user) as client:
        job = create(client).json()
        done = live_app.wait_job(client, job["id"])

    def delivered() -> int:
        return sum(a.task_id == done["task_id"] and a.ok for a in emulator.callback_attempts)

    # All five copies were answered, and any check they started has ended.
    wait_until(lambda: delivered() == 5, timeout=10)
    wait_until(lambda: job["id"] not in live_app.app.state.callback_checks, timeout=10)
    assert done["status"] == "completed"
    with live_app.db.session(read_only=True) as session:
        events = session.scalars(sa.select(UsageEvent).where(UsageEvent.job_id == job["id"])).all()
        assert len(events) == 1
    assert_ledger_invariants(live_app.db, user.id)


def test_provider_failure_fails_the_job_and_refunds_once(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    live_app.emulator.settings.image_duration_s = 30
    with live_app.client(user) as client:
        job = create(client).json()
        task_id = _wait_task_id(live_app, client, job["id"])
        live_app.emulator.force_fail(task_id, "400", "Prompt violates the content policy")
        done = live_app.wait_job(client, job["id"])
        assert client.get("/api/v1/me").json()["credits"] == 2
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
    with live_app.client(user) as client:
        job = create(client).json()
        done = live_app.wait_job(client, job["id"])
        assert client.get("/api/v1/me").json()["credits"] == 1
    assert done["status"] == "failed" and done["task_id"] is None
    assert done["error"]["code"] == "model_unavailable"
    assert "Nano Banana is switched off at Kie" in done["error"]["message"]
    assert_ledger_invariants(live_app.db, user.id)


def test_provider_out_of_credits_fails_and_refunds(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    live_app.emulator.out_of_credits = True
    with live_app.client(user) as client:
        done = live_app.wait_job(client, create(client).json()["id"])
    assert done["status"] == "failed" and done["error"]["code"] == "provider_out_of_credits"
    assert "credit was returned" in done["error"]["message"]
    assert_ledger_invariants(live_app.db, user.id)


def test_image_and_video_jobs_get_their_own_deadline(live_app: LiveApp) -> None:
    """R17: each job gets its type's deadline from the settings; past it, failed and refunded."""
    user = live_app.user(credits=20)
    jobs = live_app.app.state.runtime.settings.jobs
    saved = jobs.image_deadline_s, jobs.video_deadline_s
    jobs.image_deadline_s, jobs.video_deadline_s = 2.0, 4.0
    live_app.emulator.settings.image_duration_s = 600
    live_app.emulator.settings.video_duration_s = 600
    try:
        with live_app.client(user) as client:
            image = create(client).json()
            video = client.post("/api/v1/jobs", json={"type": "text-to-video", "prompt": PROMPT})
            assert video.status_code == 202, video.text
            video_id = video.json()["id"]
            done = {job_id: live_app.wait_job(client, job_id) for job_id in (image["id"], video_id)}
    finally:
        jobs.image_deadline_s, jobs.video_deadline_s = saved
    with live_app.db.session(read_only=True) as session:
        for job_id, seconds in ((image["id"], 2.0), (video_id, 4.0)):
            job = session.get_one(Job, job_id)
            assert (job.deadline_at - job.created_at).total_seconds() == seconds
    for job_id, kind in ((image["id"], "image"), (video_id, "video")):
        assert done[job_id]["status"] == "failed", done[job_id]
        assert done[job_id]["error"]["code"] == "deadline_exceeded"
        assert done[job_id]["error"]["message"].startswith(f"The {kind} was not ready in time")
        assert done[job_id]["credits_refunded"] == done[job_id]["credits_charged"]
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
            JobCreate(type="text-to-image", prompt=PROMPT),
            catalog=rt.catalog,
            deadline=timedelta(minutes=5),
        )
        accepted.job.next_check_at = utcnow()
        job_id = accepted.job.id
    with live_app.client(user) as client:
        done = live_app.wait_job(client, job_id)
    assert done["status"] == "completed"
    assert_ledger_invariants(live_app.db, user.id)


def _wait_task_id(live_app: LiveApp, client: httpx.Client, job_id: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["task_id"]:
            return str(job["task_id"])
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got a task id")
