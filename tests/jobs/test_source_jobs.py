"""`source_job_id`: a completed image job of yours as the reference of a new job, with no
re-upload; the new job records `parent_job_id` and is charged and replayed like any other."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from image2ad.jobs.schemas import JobCreate
from image2ad.jobs.service import request_hash
from image2ad.models import Upload
from tests.fixtures.factories import TestUser, assert_ledger_invariants
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp

PARENT = {"type": "text-to-image", "prompt": "Cold brew can on crushed ice", "aspect_ratio": "1:1"}
EDIT = {"type": "image-to-image", "prompt": "Put the can on a marble table"}
ANIMATE = {"type": "image-to-video", "prompt": "The can turns slowly"}


def finished(live_app: LiveApp, client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    created = client.post("/api/v1/jobs", json=body)
    assert created.status_code == 202, created.text
    done = live_app.wait_job(client, created.json()["id"])
    assert done["status"] == "completed", done
    return done


def upload_rows(live_app: LiveApp, user: TestUser) -> list[Upload]:
    with live_app.db.session(read_only=True) as session:
        return list(session.scalars(sa.select(Upload).where(Upload.user_id == user.id)))


def stored_uploads(live_app: LiveApp, user: TestUser) -> list[Path]:
    """The user's upload files in the live app's local store."""
    root = live_app.app.state.runtime.storage.local_path(f"uploads/{user.id}")
    return sorted(p for p in Path(root).glob("*") if not p.name.startswith("."))


@pytest.mark.parametrize(
    ("body", "reference_field"), [(EDIT, "image_urls"), (ANIMATE, "first_frame_url")]
)
def test_a_child_starts_from_the_parents_result(
    live_app: LiveApp, body: dict[str, Any], reference_field: str
) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        parent = finished(live_app, client, PARENT)
        created = client.post("/api/v1/jobs", json={**body, "source_job_id": parent["id"]})
        assert created.status_code == 202, created.text
        assert created.json()["parent_job_id"] == parent["id"]
        child = live_app.wait_job(client, created.json()["id"])
        assert child["status"] == "completed", child
        assert child["parent_job_id"] == parent["id"] and child["source_upload_id"]

        parent_bytes = client.get(f"/api/v1/jobs/{parent['id']}/result").content
        source = client.get(f"/api/v1/uploads/{child['source_upload_id']}/file")
        assert source.status_code == 200 and source.content == parent_bytes
        task = live_app.emulator.tasks[child["task_id"]]
        sent = task.input[reference_field]
        assert sent in (child["source_image_url"], [child["source_image_url"]])
        assert httpx.get(child["source_image_url"], timeout=10).content == parent_bytes
        assert client.get("/api/v1/me").json()["credits"] == 0
    assert [row.sha256 for row in upload_rows(live_app, user)] == [
        hashlib.sha256(parent_bytes).hexdigest()
    ]
    assert_ledger_invariants(live_app.db, user.id)


def test_a_child_keeps_its_source_after_the_parent_is_deleted(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with live_app.client(user) as client:
        parent = finished(live_app, client, PARENT)
        parent_bytes = client.get(f"/api/v1/jobs/{parent['id']}/result").content
        child = finished(live_app, client, {**EDIT, "source_job_id": parent["id"]})
        assert client.delete(f"/api/v1/jobs/{parent['id']}").status_code == 204
        source = client.get(f"/api/v1/uploads/{child['source_upload_id']}/file")
        assert source.status_code == 200 and source.content == parent_bytes
        # Retry makes the same generation from the kept copy: no parent needed any more.
        retried = client.post(f"/api/v1/jobs/{child['id']}/retry")
        assert retried.status_code == 202, retried.text
        again = live_app.wait_job(client, retried.json()["id"])
        assert again["status"] == "completed", again
        assert again["source_upload_id"] == child["source_upload_id"]
        assert client.get(f"/api/v1/jobs/{child['id']}").json()["parent_job_id"] == parent["id"]
        assert client.get("/api/v1/me").json()["credits"] == 0
    assert_ledger_invariants(live_app.db, user.id)


def test_refusals_name_the_field_and_charge_nothing(live_app: LiveApp) -> None:
    owner, stranger = live_app.user(credits=10), live_app.user(credits=1)
    with live_app.client(owner) as client:
        image = finished(live_app, client, PARENT)
        video = finished(live_app, client, {"type": "text-to-video", "prompt": "Waves at dusk"})
        deleted = finished(live_app, client, PARENT)
        assert client.delete(f"/api/v1/jobs/{deleted['id']}").status_code == 204
        live_app.emulator.settings.image_duration_s = 30
        canceled = client.post("/api/v1/jobs", json=PARENT).json()
        assert client.post(f"/api/v1/jobs/{canceled['id']}/cancel").status_code == 200
        running = client.post("/api/v1/jobs", json=PARENT).json()
        upload_id = client.post(
            "/api/v1/uploads", files={"file": ("ref.png", image_bytes(), "image/png")}
        ).json()["id"]
        credits = client.get("/api/v1/me").json()["credits"]
        uploads_before = len(upload_rows(live_app, owner))

        cases: list[tuple[dict[str, Any], int, str]] = [
            (
                {**EDIT, "source_job_id": image["id"], "source_upload_id": upload_id},
                422,
                "source_job_id",
            ),
            (EDIT, 422, "source_upload_id"),
            ({**ANIMATE, "source_job_id": running["id"]}, 422, "source_job_id"),
            ({**EDIT, "source_job_id": canceled["id"]}, 422, "source_job_id"),
            ({**EDIT, "source_job_id": video["id"]}, 422, "source_job_id"),
            ({**EDIT, "source_job_id": deleted["id"]}, 404, "source_job_id"),
            ({**EDIT, "source_job_id": "no-such-job"}, 404, "source_job_id"),
            ({**PARENT, "source_job_id": image["id"]}, 422, "source_job_id"),
            ({**PARENT, "source_upload_id": upload_id}, 422, "source_upload_id"),
        ]
        for body, status, field in cases:
            response = client.post("/api/v1/jobs", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"]["field"] == field, (body, response.text)
        assert client.get("/api/v1/me").json()["credits"] == credits
        assert client.post(f"/api/v1/jobs/{running['id']}/cancel").status_code == 200
    with live_app.client(stranger) as client:
        theirs = client.post("/api/v1/jobs", json={**EDIT, "source_job_id": image["id"]})
        missing = client.post("/api/v1/jobs", json={**EDIT, "source_job_id": "no-such-job"})
        # Another user's job and no job at all get the same answer.
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == missing.json()
        assert client.get("/api/v1/me").json()["credits"] == 1
    assert len(upload_rows(live_app, owner)) == uploads_before
    assert upload_rows(live_app, stranger) == []
    assert_ledger_invariants(live_app.db, owner.id)


def test_a_child_refused_after_the_copy_leaves_no_copy_behind(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        parent = finished(live_app, client, PARENT)
        response = client.post("/api/v1/jobs", json={**EDIT, "source_job_id": parent["id"]})
        assert response.status_code == 402
    assert upload_rows(live_app, user) == [] and stored_uploads(live_app, user) == []
    assert_ledger_invariants(live_app.db, user.id)


def test_one_idempotency_key_charges_once_and_keeps_one_copy(live_app: LiveApp) -> None:
    user = live_app.user(credits=4)
    with live_app.client(user) as client:
        parent = finished(live_app, client, PARENT)
        other = finished(live_app, client, PARENT)
        body = {**EDIT, "source_job_id": parent["id"]}
        headers = {"Idempotency-Key": "edit-1"}
        first = client.post("/api/v1/jobs", json=body, headers=headers)
        second = client.post("/api/v1/jobs", json=body, headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json()["id"] == second.json()["id"]
        assert second.headers["Idempotent-Replayed"] == "true"
        changed = client.post(
            "/api/v1/jobs", json={**body, "source_job_id": other["id"]}, headers=headers
        )
        assert changed.status_code == 422
        assert changed.json()["error"]["code"] == "idempotency_key_reused"
        assert client.get("/api/v1/me").json()["credits"] == 1
        live_app.wait_job(client, first.json()["id"])
    assert len(upload_rows(live_app, user)) == len(stored_uploads(live_app, user)) == 1
    assert_ledger_invariants(live_app.db, user.id)


def test_keys_of_bodies_without_source_job_id_still_match() -> None:
    body = JobCreate.model_validate({**EDIT, "source_upload_id": "u-1"})
    before = body.model_dump(mode="json", exclude={"model", "params", "source_job_id"})
    canonical = json.dumps(before, sort_keys=True, separators=(",", ":"))
    assert request_hash(body) == hashlib.sha256(canonical.encode()).hexdigest()
    assert request_hash(body) != request_hash(body.model_copy(update={"source_job_id": "j-1"}))
