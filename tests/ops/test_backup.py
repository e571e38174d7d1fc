"""`image2ad backup` of a running deployment, then `image2ad restore` into a new database and
a new store: the restored server serves the same jobs, files, uploads and balances.

SQLite + a local folder, and PostgreSQL + S3 (moto); every command runs as its own process.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from image2ad.db import Database
from image2ad.migrate import upgrade
from tests.fixtures.database import database_url
from tests.fixtures.factories import TestUser, assert_ledger_invariants, create_user
from tests.fixtures.s3 import MotoS3
from tests.ops.servers import app_env, cli, server, wait_job

SHAPES = [
    pytest.param(("sqlite", "local"), id="sqlite-local"),
    pytest.param(("postgres", "s3"), id="postgres-s3", marks=pytest.mark.postgres),
]


@contextmanager
def deployment(shape: tuple[str, str], tmp: Path, s3: MotoS3 | None) -> Iterator[dict[str, str]]:
    """A fresh database and store; yields the settings every process of it shares."""
    tmp.mkdir()
    with database_url(shape[0], tmp) as url:
        yield app_env(tmp, url, s3 if shape[1] == "s3" else None)


def png(color: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


def fetch(base_url: str, user: TestUser, path: str) -> bytes:
    reply = httpx.get(f"{base_url}{path}", headers=user.headers, follow_redirects=True)
    assert reply.status_code == 200, (path, reply.status_code, reply.text[:200])
    return reply.content


def snapshot(base_url: str, user: TestUser, job_ids: list[str], upload_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, headers=user.headers) as client:
        jobs = [client.get(f"/api/v1/jobs/{job_id}").json() for job_id in job_ids]
        balance = client.get("/api/v1/me").json()["credits"]
    return {
        "jobs": [(j["id"], j["status"], j["result_path"]) for j in jobs],
        "results": [fetch(base_url, user, f"/api/v1/jobs/{j}/result") for j in job_ids],
        "upload": fetch(base_url, user, f"/api/v1/uploads/{upload_id}/file"),
        "credits": balance,
    }


@pytest.mark.parametrize("shape", SHAPES)
def test_backup_then_restore_into_a_new_database_and_store(
    shape: tuple[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    s3: MotoS3 | None = request.getfixturevalue("moto_s3") if shape[1] == "s3" else None
    folder = tmp_path / "backup"
    with ExitStack() as stack:
        old_env = stack.enter_context(deployment(shape, tmp_path / "old", s3))
        upgrade(old_env["IMAGE2AD_DATABASE_URL"])
        db = Database(old_env["IMAGE2AD_DATABASE_URL"])
        user = create_user(db, credits=5)
        db.dispose()
        old = server(old_env, tmp_path / "old")
        old.start()
        try:
            with httpx.Client(base_url=old.base_url, headers=user.headers) as client:
                upload = client.post(
                    "/api/v1/uploads", files={"file": ("ref.png", png("teal"), "image/png")}
                ).json()
                ids = [
                    client.post(
                        "/api/v1/jobs", json={"type": "text-to-image", "prompt": f"Backup {n}"}
                    ).json()["id"]
                    for n in range(2)
                ]
            for job_id in ids:
                assert wait_job(old.base_url, user.headers, job_id)["status"] == "completed"
            before = snapshot(old.base_url, user, ids, upload["id"])
            # Taken while the server runs: the snapshot, not a quiet moment, makes it consistent.
            made = cli(old_env, "backup", str(folder))
            assert made.returncode == 0, made.stderr
        finally:
            old.stop()
        assert "3 files" in made.stdout and "0 missing" in made.stdout
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["objects"] == 3 and manifest["missing"] == []

        new_env = stack.enter_context(deployment(shape, tmp_path / "new", s3))
        assert new_env["IMAGE2AD_STORAGE_URL"] != old_env["IMAGE2AD_STORAGE_URL"]
        restored = cli(new_env, "restore", str(folder))
        assert restored.returncode == 0, restored.stderr
        again = cli(new_env, "restore", str(folder))
        assert again.returncode == 1 and "restore into a new" in again.stderr
        assert "up to date" in cli(new_env, "db", "upgrade").stdout

        new = server(new_env, tmp_path / "new")
        new.start()
        try:
            assert snapshot(new.base_url, user, ids, upload["id"]) == before
        finally:
            new.stop()
        db = Database(new_env["IMAGE2AD_DATABASE_URL"])
        assert_ledger_invariants(db, user.id)
        db.dispose()


def test_backup_refuses_a_folder_in_use(tmp_path: Path) -> None:
    env = app_env(tmp_path, f"sqlite:///{tmp_path / 'app.sqlite'}")
    upgrade(env["IMAGE2AD_DATABASE_URL"])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text(uuid.uuid4().hex)
    result = cli(env, "backup", str(tmp_path / "busy"))
    assert result.returncode == 1 and "not empty" in result.stderr
