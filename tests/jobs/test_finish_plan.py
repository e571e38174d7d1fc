"""The finish workflow's plan (the result's key and what storing it needs) comes with the
confirmed outcome, so a callback's job is stored and completed in two steps; a workflow
enqueued before plans came with outcomes still plans for itself; a job that ended before its
result was kept gets nothing stored, also under the key an earlier killed try may have used."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from dbos import DBOS, SetWorkflowID

from image2ad.jobs.pipeline.finish import finish_job, plan_of
from image2ad.jobs.pipeline.steps import FINISH_QUEUE, finish_workflow_id, queues
from image2ad.models import Job
from image2ad.models.base import utcnow
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "A blue kettle on a white shelf"}


@pytest.fixture
def slow_provider(live_app: LiveApp) -> Iterator[None]:
    """The provider takes long enough that the test finishes the job itself, first."""
    live_app.emulator.settings.image_duration_s = 60.0
    yield


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def step_names(workflow_id: str) -> list[str]:
    return [step["function_name"] for step in DBOS.list_workflow_steps(workflow_id)]


def waiting_job(live_app: LiveApp, client: httpx.Client) -> dict[str, Any]:
    job: dict[str, Any] = client.post("/api/v1/jobs", json=BODY).json()
    wait_until(lambda: client.get(f"/api/v1/jobs/{job['id']}").json()["task_id"], timeout=20)
    return dict(client.get(f"/api/v1/jobs/{job['id']}").json())


def result_url(live_app: LiveApp, task_id: str) -> str:
    task = live_app.emulator.tasks[task_id]
    return f"{live_app.emulator.public_url}/files/{task.file_token}/{task.result_names[0]}"


def run_finish(job_id: str, outcome: dict[str, Any]) -> str:
    workflow_id = finish_workflow_id(job_id)
    with SetWorkflowID(workflow_id):
        handle = queues[FINISH_QUEUE].enqueue(finish_job, job_id, outcome)
    handle.get_result()
    return workflow_id


def test_a_callback_s_job_is_stored_and_completed_without_a_planning_step(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = client.post("/api/v1/jobs", json=BODY).json()
        done = live_app.wait_job(client, job["id"])
    assert done["status"] == "completed", done
    assert done["result_path"] == f"results/{user.id}/text-to-image/{job['id']}.png"
    assert step_names(finish_workflow_id(job["id"])) == ["store_result", "complete_job"]
    assert_ledger_invariants(live_app.db, user.id)


def test_a_finish_enqueued_without_a_plan_plans_for_itself(
    live_app: LiveApp, slow_provider: None
) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = waiting_job(live_app, client)
        # No callback and no poll: this test's workflow is the job's only finish.
        live_app.emulator.drop_callbacks = True
        later = utcnow() + timedelta(hours=1)
        # Twice: a check in flight at the first update reschedules the job when it ends.
        for _ in range(2):
            with live_app.db.session() as session:
                values = {"next_check_at": later}
                session.execute(sa.update(Job).where(Job.id == job["id"]).values(**values))
            time.sleep(1.0)
        live_app.emulator.force_success(job["task_id"])
        outcome = {"kind": "success", "urls": [result_url(live_app, job["task_id"])]}
        workflow_id = run_finish(job["id"], outcome)
        done = client.get(f"/api/v1/jobs/{job['id']}").json()
        assert done["status"] == "completed", done
        assert client.get(f"/api/v1/jobs/{job['id']}/result").status_code == 200
    assert step_names(workflow_id) == ["plan_result", "store_result", "complete_job"]
    assert_ledger_invariants(live_app.db, user.id)


def test_a_job_that_ended_first_gets_nothing_stored(live_app: LiveApp, slow_provider: None) -> None:
    user = live_app.user(credits=2)
    storage = live_app.app.state.runtime.storage
    with live_app.client(user) as client:
        job = waiting_job(live_app, client)
        assert client.post(f"/api/v1/jobs/{job['id']}/cancel").json()["status"] == "canceled"
        live_app.emulator.force_success(job["task_id"])
        with live_app.db.session(read_only=True) as session:
            row = session.get(Job, job["id"])
            assert row is not None
            plan = plan_of(live_app.app.state.runtime.catalog, row)
        # What a killed earlier try of the store step may have left under the job's key.
        asyncio.run(storage.write(plan["key"], chunks(b"left by a killed try")))
        outcome = {"kind": "success", "urls": [result_url(live_app, job["task_id"])], "plan": plan}
        workflow_id = run_finish(job["id"], outcome)
        final = client.get(f"/api/v1/jobs/{job['id']}").json()
    assert final["status"] == "canceled" and final["result_path"] is None
    assert step_names(workflow_id) == ["store_result"]
    assert not asyncio.run(storage.exists(plan["key"]))
    assert_ledger_invariants(live_app.db, user.id)
