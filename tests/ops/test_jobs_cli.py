"""`image2ad jobs stuck` and `image2ad jobs fail` on SQLite and PostgreSQL, run as processes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from image2ad.catalog import Catalog
from image2ad.credits import repository as ledger
from image2ad.db import Database
from image2ad.jobs import service
from image2ad.jobs.schemas import JobCreate
from image2ad.models import Job, User
from tests.fixtures.factories import assert_ledger_invariants, create_user
from tests.ops.servers import cli


def make_job(db: Database, user_id: str) -> str:
    with db.session() as session:
        user = session.get_one(User, user_id)
        accepted = service.create_job(
            session,
            user,
            JobCreate.model_validate({"type": "text-to-image", "prompt": "Stuck sneakers"}),
            catalog=Catalog.load(None),
            deadline=timedelta(minutes=15),
        )
        return accepted.job.id


def test_stuck_lists_an_unfinished_job_and_fail_refunds_it_once(
    db: Database, tmp_path: Path
) -> None:
    env = {"IMAGE2AD_DATABASE_URL": db.url, "IMAGE2AD_DATA_DIR": str(tmp_path)}
    user = create_user(db, credits=3)
    job_id = make_job(db, user.id)

    listed = cli(env, "jobs", "stuck")
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith(job_id)]
    assert "\tpending/queued\t" in row

    refused = cli(env, "jobs", "fail", job_id, "--reason", "Kie outage")
    assert refused.returncode == 2 and "--refund" in refused.stderr

    failed = cli(env, "jobs", "fail", job_id, "--refund", "--reason", "Kie outage")
    assert failed.returncode == 0, failed.stderr
    assert "refunded 1 credit" in failed.stdout
    with db.session(read_only=True) as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.error_code, job.error_message) == (
            "failed",
            "failed_by_operator",
            "Kie outage",
        )
        kinds = sorted(e.kind for e in ledger.entries_for_job(session, job_id))
    assert kinds == ["charge", "refund"]
    assert_ledger_invariants(db, user.id)

    again = cli(env, "jobs", "fail", job_id, "--refund", "--reason", "twice")
    assert again.returncode == 1 and "already failed" in again.stderr
    missing = cli(env, "jobs", "fail", "no-such-job", "--refund", "--reason", "x")
    assert missing.returncode == 1 and "no job" in missing.stderr
    assert job_id not in cli(env, "jobs", "stuck").stdout
    assert_ledger_invariants(db, user.id)
