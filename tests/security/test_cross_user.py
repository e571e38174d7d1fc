"""S7: user B uses user A's ids on every route, by API key and by session cookie: always 404,
and nothing of A's changes."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from image2ad.models import ApiKey, CreditEntry, Job, Upload
from tests.fixtures.emulator import wait_until
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp
from tests.web.session import signed_in


def snapshot(live_app: LiveApp, user_id: str) -> tuple[object, ...]:
    with live_app.db.session(read_only=True) as session:
        jobs = session.execute(
            sa.select(Job.id, Job.status, Job.deleted_at, Job.result_path).where(
                Job.user_id == user_id
            )
        ).all()
        entries = session.scalar(sa.select(sa.func.count()).where(CreditEntry.user_id == user_id))
        uploads = session.scalar(sa.select(sa.func.count()).where(Upload.user_id == user_id))
        keys = session.execute(
            sa.select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.user_id == user_id)
        ).all()
    return tuple(sorted(map(tuple, jobs))), entries, uploads, tuple(sorted(map(tuple, keys)))


def key_id_of(live_app: LiveApp, user_id: str) -> str:
    with live_app.db.session(read_only=True) as session:
        return str(session.scalar(sa.select(ApiKey.id).where(ApiKey.user_id == user_id)))


def routes(job_id: str, running_id: str, upload_id: str, key_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/api/v1/jobs/{job_id}"),
        ("GET", f"/api/v1/jobs/{job_id}/result"),
        ("GET", f"/api/v1/jobs/{job_id}/events"),
        ("POST", f"/api/v1/jobs/{running_id}/cancel"),
        ("POST", f"/api/v1/jobs/{job_id}/retry"),
        ("DELETE", f"/api/v1/jobs/{job_id}"),
        ("DELETE", f"/api/v1/jobs/{running_id}"),
        ("GET", f"/api/v1/uploads/{upload_id}"),
        ("GET", f"/api/v1/uploads/{upload_id}/file"),
        ("GET", f"/jobs/{job_id}"),
        ("GET", f"/jobs/{job_id}/card"),
        ("POST", f"/settings/api-keys/{key_id}/revoke"),
    ]


def test_no_route_lets_one_user_reach_anothers_work(live_app: LiveApp) -> None:
    owner, intruder = live_app.user(credits=5), live_app.user(credits=5)
    live_app.emulator.settings.image_duration_s = 30
    try:
        with live_app.client(owner) as client:
            upload_id = client.post(
                "/api/v1/uploads", files={"file": ("a.png", image_bytes(), "image/png")}
            ).json()["id"]
            running_id = client.post(
                "/api/v1/jobs", json={"type": "text-to-image", "prompt": "running"}
            ).json()["id"]
            # The emulator fixes a task's duration when the task is created: wait for that.
            wait_until(
                lambda: client.get(f"/api/v1/jobs/{running_id}").json()["task_id"], timeout=30
            )
        live_app.emulator.settings.image_duration_s = 0.6
        with live_app.client(owner) as client:
            done = live_app.wait_job(
                client,
                client.post(
                    "/api/v1/jobs", json={"type": "text-to-image", "prompt": "done"}
                ).json()["id"],
            )
        owner_key = key_id_of(live_app, owner.id)
        before = snapshot(live_app, owner.id)
        hits = []
        with live_app.client(intruder) as api, signed_in(live_app, intruder) as web:
            for method, path in routes(done["id"], running_id, upload_id, owner_key):
                if method == "GET":
                    by_cookie = web.page(path)
                elif path.startswith("/api/"):
                    by_cookie = web.api(method, path)
                else:
                    web.page(
                        "/settings/api-keys"
                    )  # a form posted from its page, CSRF token and all
                    by_cookie = web.submit(path, {})
                # Pages take only the session cookie; the API takes both.
                answers = (
                    [by_cookie]
                    if not path.startswith("/api/")
                    else [api.request(method, path), by_cookie]
                )
                for response in answers:
                    if response.status_code != 404:
                        hits.append((method, path, response.status_code))
            image_job = api.post(
                "/api/v1/jobs",
                json={"type": "image-to-image", "prompt": "x", "source_upload_id": upload_id},
            )
            assert image_job.status_code == 422
        assert hits == []
        assert snapshot(live_app, owner.id) == before
        with live_app.client(owner) as client:
            assert client.get("/api/v1/me").status_code == 200  # the owner's key still works
    finally:
        with httpx.Client(base_url=live_app.base_url, headers=owner.headers) as client:
            client.post(f"/api/v1/jobs/{running_id}/cancel")
