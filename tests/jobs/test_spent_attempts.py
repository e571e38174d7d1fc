"""A workflow that ended while its job stayed unfinished must not strand the job.

Workflow ids are derived from the job, so re-starting an ended one is a no-op in DBOS. These
tests occupy a job's first finish id with a workflow that ends without touching the job (an
enqueued-then-cancelled one, as an operator's cancel would leave), then let the job run on: the
next start must take a new attempt, whether the provider's success or the deadline comes next.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from image2ad.jobs.pipeline.finish import finish_job
from image2ad.jobs.pipeline.steps import FINISH_QUEUE, finish_workflow_id, queues
from image2ad.models import CreditEntry, Job
from image2ad.models.base import utcnow
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp


@pytest.fixture
def slow_provider(live_app: LiveApp) -> Iterator[None]:
    """Tasks take long enough that the test acts while the job still waits on the provider."""
    settings = live_app.emulator.settings
    before = settings.image_duration_s
    settings.image_duration_s = 3.0
    try:
        yield
    finally:
        settings.image_duration_s = before


def spend_first_finish_attempt(job_id: str) -> None:
    workflow_id = finish_workflow_id(job_id)
    with SetWorkflowID(workflow_id), SetEnqueueOptions(delay_seconds=3600):
        queues[FINISH_QUEUE].enqueue(
            finish_job, job_id, {"kind": "fail", "code": "never", "message": "never runs"}
        )
    DBOS.cancel_workflow(workflow_id)
    status = DBOS.get_workflow_status(workflow_id)
    assert status is not None and status.status == "CANCELLED"


def test_a_success_after_a_spent_finish_attempt_completes_the_job(
    live_app: LiveApp, slow_provider: None
) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "spent"}).json()
        spend_first_finish_attempt(job["id"])
        done = live_app.wait_job(client, job["id"], timeout=60)
        assert done["status"] == "completed", done
        assert client.get(f"/api/v1/jobs/{job['id']}/result").status_code == 200
    with live_app.db.session(read_only=True) as session:
        row = session.get(Job, job["id"])
        assert row is not None and row.finish_attempt == 1
    # The job is completed inside the workflow's last step; the workflow ends just after it.
    DBOS.retrieve_workflow(finish_workflow_id(job["id"], 1)).get_result()
    status = DBOS.get_workflow_status(finish_workflow_id(job["id"], 1))
    assert status is not None and status.status == "SUCCESS"
    assert_ledger_invariants(live_app.db, user.id)


def test_the_deadline_ends_a_job_whose_finish_attempt_is_spent(
    live_app: LiveApp, slow_provider: None
) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "late"}).json()
        spend_first_finish_attempt(job["id"])
        # Time travel: the job's deadline has passed while its provider task still runs.
        with live_app.db.session() as session:
            session.execute(
                sa.update(Job)
                .where(Job.id == job["id"])
                .values(deadline_at=utcnow() - timedelta(seconds=1))
            )
        done = live_app.wait_job(client, job["id"], timeout=30)
    assert done["status"] == "failed" and done["error"]["code"] == "deadline_exceeded", done
    assert done["credits_refunded"] == 1
    with live_app.db.session(read_only=True) as session:
        kinds = sorted(
            session.scalars(
                sa.select(CreditEntry.kind).where(CreditEntry.job_id == job["id"])
            ).all()
        )
    assert kinds == ["charge", "refund"]
    assert_ledger_invariants(live_app.db, user.id)
