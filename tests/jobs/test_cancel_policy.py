"""Issue 11 finding 8: the cancel policy. Before Kie accepted the task a cancel always refunds;
after it (Kie has no cancel: the task runs on and is paid for) IMAGE2AD_CANCEL_AFTER_SUBMIT
decides; either way a result that arrives later is never kept nor served."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from image2ad.catalog import Catalog
from image2ad.db import Database
from image2ad.jobs import repository, service
from image2ad.jobs.schemas import JobCreate
from image2ad.jobs.status import JobStatus
from image2ad.models import User
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import assert_ledger_invariants, create_user
from tests.fixtures.hostile import report
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Gold watch on black velvet", "aspect_ratio": "4:5"}


def new_job(db: Database, user_id: str, *, task_id: str | None) -> str:
    with db.session() as session:
        job = service.create_job(
            session,
            session.get_one(User, user_id),
            JobCreate(type="text-to-image", prompt="a lamp"),
            catalog=Catalog.load(None),
            deadline=timedelta(minutes=5),
        ).job
        if task_id is not None:
            repository.transition(session, job.id, JobStatus.PROCESSING, task_id=task_id)
        return job.id


@pytest.mark.parametrize("refund_after_submit", [True, False])
def test_a_cancel_before_kie_accepted_always_refunds(
    db: Database, refund_after_submit: bool
) -> None:
    user = create_user(db, credits=1)
    job_id = new_job(db, user.id, task_id=None)
    with db.session() as session:
        job = service.cancel(
            session, session.get_one(User, user.id), job_id, refund_after_submit=refund_after_submit
        )
        assert (job.status, job.credits_refunded) == ("canceled", 1)
        assert session.get_one(User, user.id).credits == 1
    assert_ledger_invariants(db, user.id)


@pytest.mark.parametrize(("refund_after_submit", "balance"), [(True, 1), (False, 0)])
def test_a_cancel_after_kie_accepted_follows_the_setting(
    db: Database, refund_after_submit: bool, balance: int
) -> None:
    user = create_user(db, credits=1)
    job_id = new_job(db, user.id, task_id="accepted-task")
    with db.session() as session:
        job = service.cancel(
            session, session.get_one(User, user.id), job_id, refund_after_submit=refund_after_submit
        )
        assert (job.status, job.credits_refunded) == ("canceled", balance)
        assert session.get_one(User, user.id).credits == balance
    assert_ledger_invariants(db, user.id)


@pytest.fixture
def keep_policy(live_app: LiveApp) -> Iterator[LiveApp]:
    settings = live_app.app.state.runtime.settings
    settings.cancel_after_submit = "keep"
    try:
        yield live_app
    finally:
        settings.cancel_after_submit = "refund"


def test_keep_policy_charges_and_a_late_result_is_never_served(keep_policy: LiveApp) -> None:
    live_app = keep_policy
    user = live_app.user(credits=1)
    emulator = live_app.emulator
    emulator.settings.image_duration_s = 30
    with live_app.client(user) as client:
        job_id = client.post("/api/v1/jobs", json=BODY).json()["id"]
        wait_until(lambda: client.get(f"/api/v1/jobs/{job_id}").json()["task_id"], timeout=20)
        canceled = client.post(f"/api/v1/jobs/{job_id}/cancel").json()
        assert (canceled["status"], canceled["credits_refunded"]) == ("canceled", 0)
        task_id = canceled["task_id"]
        emulator.force_success(task_id)
        wait_until(
            lambda: any(a.task_id == task_id and a.ok for a in emulator.callback_attempts),
            timeout=10,
        )
        final = client.get(f"/api/v1/jobs/{job_id}").json()
        result = client.get(f"/api/v1/jobs/{job_id}/result")
        task = emulator.tasks[task_id]
        at_kie = client.get(f"/_emulator/files/{task_id}/{task.result_names[0]}")
        balance = client.get("/api/v1/me").json()["credits"]
    assert report(
        "8 cancel after submit",
        "test_keep_policy_charges_and_a_late_result_is_never_served",
        expected="keep: canceled, credit kept; late result: not stored, not served, 404 at Kie",
        observed=f"{final['status']}, refunded {canceled['credits_refunded']}, balance "
        f"{balance}, result {result.status_code}, Kie file by task id {at_kie.status_code}",
        passed=final["status"] == "canceled"
        and final["result_path"] is None
        and final["result_url"] is None
        and result.status_code == 404
        and at_kie.status_code == 404
        and task_id not in emulator.served_results
        and balance == 0,
    )
    assert_ledger_invariants(live_app.db, user.id)
