"""`image2ad report margin`: credits taken vs Kie credits spent, by type and model."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from image2ad.catalog import Catalog
from image2ad.db import Database
from image2ad.jobs import service
from image2ad.jobs.schemas import JobCreate
from image2ad.models import Job, User
from image2ad.models.base import utcnow
from tests.fixtures.factories import create_user
from tests.ops.servers import cli


def finished_job(db: Database, user_id: str, body: dict, *, ok: bool, kie: float | None) -> str:  # type: ignore[type-arg]
    with db.session() as session:
        user = session.get_one(User, user_id)
        job = service.create_job(
            session,
            user,
            JobCreate.model_validate({"prompt": "An ad", **body}),
            catalog=Catalog.load(None),
            deadline=timedelta(minutes=15),
        ).job
        job_id = job.id
    with db.session() as session:
        if ok:
            job = session.get_one(Job, job_id)
            job.status, job.completed_at = "completed", utcnow()
            job.provider_credits_consumed = kie
        else:
            service.fail_and_refund(session, job_id, code="x", message="x", provider_credits=kie)
    return job_id


def test_margin_by_type_and_model_since_a_date(own_db: Database, tmp_path: Path) -> None:
    db = own_db
    env = {"IMAGE2AD_DATABASE_URL": db.url, "IMAGE2AD_DATA_DIR": str(tmp_path)}
    user = create_user(db, credits=50)
    image = {"type": "text-to-image"}
    finished_job(db, user.id, image, ok=True, kie=4.0)
    finished_job(db, user.id, image, ok=True, kie=4.0)
    finished_job(db, user.id, image, ok=False, kie=0.0)
    # Veo reports no cost: the catalog's (250 a clip) stands in, counted as estimated.
    finished_job(db, user.id, {"type": "text-to-video", "model": "veo3"}, ok=True, kie=None)

    report = cli(env, "report", "margin", "--since", "7d")
    assert report.returncode == 0, report.stderr
    rows = {tuple(line.split("\t")[:2]): line.split("\t") for line in report.stdout.splitlines()}
    assert rows[("text-to-image", "google/nano-banana")][2:] == [
        "3", "2", "2", "8.0", "0.04", "0",
    ]  # fmt: skip
    assert rows[("text-to-video", "veo3")][2:] == ["1", "1", "2", "250.0", "1.25", "1"]
    assert rows[("TOTAL", "")][2:] == ["4", "3", "4", "258.0", "1.29", "1"]

    future = cli(env, "report", "margin", "--since", "2999-01-01")
    assert [line.split("\t")[2] for line in future.stdout.splitlines()[1:]] == ["0"]
    bad = cli(env, "report", "margin", "--since", "last tuesday")
    assert bad.returncode != 0 and "7d, 12h, 2w" in bad.stderr
