"""Crash point P2: createTask reached Kie but the task id was never saved."""

from __future__ import annotations

from datetime import timedelta

import httpx

from image2ad.jobs import repository, service
from image2ad.jobs.schemas import JobCreate
from image2ad.jobs.status import JobStage, JobStatus
from image2ad.models import User
from image2ad.models.base import utcnow
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

PROMPT = "Neon running shoes, night city"


def uncertain_job(live_app: LiveApp, user_id: str, grace: timedelta) -> tuple[str, str]:
    """A job left as the submit workflow leaves it after an unanswered createTask."""
    rt = live_app.app.state.runtime
    with live_app.db.session() as session:
        job = service.create_job(
            session,
            session.get_one(User, user_id),
            JobCreate(type="text-to-image", prompt=PROMPT),
            catalog=rt.catalog,
            deadline=timedelta(minutes=5),
        ).job
        repository.transition(
            session,
            job.id,
            JobStatus.PROCESSING,
            stage=JobStage.SUBMITTING.value,
            started_at=utcnow(),
            next_check_at=utcnow() + grace,
        )
        return job.id, str(rt.callback_url(job.id, job.callback_secret))


def send_create_task(live_app: LiveApp, callback_url: str) -> str:
    rt = live_app.app.state.runtime
    with httpx.Client(
        base_url=rt.kie_base_url, headers={"Authorization": f"Bearer {rt.kie_api_key}"}
    ) as kie:
        reply = kie.post(
            "/api/v1/jobs/createTask",
            json={
                "model": "google/nano-banana",
                "callBackUrl": callback_url,
                "input": {"prompt": PROMPT, "aspect_ratio": "1:1", "output_format": "png"},
            },
        ).json()
    return str(reply["data"]["taskId"])


def test_callback_naming_the_job_adopts_the_orphan_task(live_app: LiveApp) -> None:
    user = live_app.user()
    job_id, callback_url = uncertain_job(live_app, user.id, grace=timedelta(minutes=5))
    task_id = send_create_task(live_app, callback_url)
    with live_app.client(user) as client:
        done = live_app.wait_job(client, job_id)
    assert done["status"] == "completed" and done["task_id"] == task_id
    tasks_for_job = [t for t in live_app.emulator.tasks.values() if t.callback_url == callback_url]
    assert len(tasks_for_job) == 1  # adopted, not resubmitted
    assert_ledger_invariants(live_app.db, user.id)


def test_without_a_callback_the_job_is_resubmitted_after_the_grace_period(
    live_app: LiveApp,
) -> None:
    user = live_app.user()
    job_id, _ = uncertain_job(live_app, user.id, grace=timedelta(seconds=0))
    with live_app.client(user) as client:
        done = live_app.wait_job(client, job_id)
    assert done["status"] == "completed"
    with live_app.db.session(read_only=True) as session:
        job = repository.get(session, job_id)
        assert job is not None and job.submit_attempts == 2
    assert_ledger_invariants(live_app.db, user.id)


def test_a_callback_for_someone_elses_task_is_not_adopted(live_app: LiveApp) -> None:
    """A forged callback naming our job but carrying another task's id changes nothing."""
    user = live_app.user()
    job_id, callback_url = uncertain_job(live_app, user.id, grace=timedelta(minutes=5))
    # Another job's task: its callback URL is ours (the emulator calls back nowhere else); it
    # runs long, so only our check asks about it.
    live_app.emulator.settings.image_duration_s = 30
    _, other_callback_url = uncertain_job(live_app, live_app.user().id, timedelta(minutes=5))
    foreign_task = send_create_task(live_app, other_callback_url)
    checks = live_app.app.state.callback_checks
    with live_app.client() as client:
        response = client.post(callback_url, json={"code": 200, "data": {"taskId": foreign_task}})
        assert response.status_code == 200
    # The adoption check starts before the answer and runs after it: wait for its end.
    wait_until(lambda: job_id not in checks, timeout=10)
    assert live_app.emulator.queries[foreign_task] == 1, "the check asked Kie about the task"
    with live_app.client(user) as client:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["task_id"] is None and job["status"] == "processing"


def test_a_task_of_an_earlier_attempt_is_not_adopted_by_the_next_one(live_app: LiveApp) -> None:
    """The job was sent again (attempt 2) after attempt 1's createTask went unanswered; attempt
    1's task calling back now must stay an orphan, or attempt 2's task would be paid for
    nothing. A task of the current attempt is still adopted."""
    user = live_app.user()
    job_id, callback_url = uncertain_job(live_app, user.id, grace=timedelta(minutes=5))
    with live_app.db.session() as session:
        repository.update_active(session, job_id, submit_attempts=2, create_sent_attempt=2)
    live_app.emulator.settings.image_duration_s = 30  # only our checks ask about these tasks
    earlier = send_create_task(live_app, f"{callback_url}?attempt=1")
    checks = live_app.app.state.callback_checks
    with live_app.client() as client:
        response = client.post(callback_url, json={"code": 200, "data": {"taskId": earlier}})
        assert response.status_code == 200
    wait_until(lambda: live_app.emulator.queries[earlier] >= 1, timeout=10)
    wait_until(lambda: job_id not in checks, timeout=10)
    with live_app.client(user) as client:
        assert client.get(f"/api/v1/jobs/{job_id}").json()["task_id"] is None

    current = send_create_task(live_app, f"{callback_url}?attempt=2")
    with live_app.client() as client:
        client.post(callback_url, json={"code": 200, "data": {"taskId": current}})
    wait_until(lambda: live_app.emulator.queries[current] >= 1, timeout=10)
    wait_until(lambda: job_id not in checks, timeout=10)
    with live_app.client(user) as client:
        assert client.get(f"/api/v1/jobs/{job_id}").json()["task_id"] == current
