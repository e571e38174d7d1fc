"""`POST|GET /api/v1/shares`, `DELETE /api/v1/shares/{id}`: make, list and revoke share links
(yours only; 422 for what cannot be shared), over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from image2ad.models import Pack, Share
from image2ad.shares.schemas import DEFAULT_EXPIRES_S, MAX_EXPIRES_S
from tests.fixtures.live_app import LiveApp
from tests.shares.helpers import finished_job, make_pack, path_of, share, visitor

DAY = 24 * 3600


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def test_create_list_and_revoke_a_link(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        job = finished_job(live_app, client)
        before = datetime.now(UTC)
        created = share(client, job_id=job["id"])
        assert set(created) == {"id", "url", "job_id", "pack_id", "created_at", "expires_at"}
        assert (created["job_id"], created["pack_id"]) == (job["id"], None)
        expires = parse(created["expires_at"])
        default = timedelta(seconds=DEFAULT_EXPIRES_S)
        slack = timedelta(seconds=5)
        assert before + default - slack < expires < before + default + slack
        path = path_of(created["url"], live_app)
        token = path.removeprefix("/s/")
        # Only the hash is stored; the token is not in the listing either.
        with live_app.db.session(read_only=True) as session:
            stored = session.get_one(Share, created["id"])
            assert token not in stored.token_hash and len(stored.token_hash) == 64
        listed = client.get("/api/v1/shares", params={"job_id": job["id"]})
        assert listed.status_code == 200
        assert [s["id"] for s in listed.json()["items"]] == [created["id"]]
        assert token not in listed.text and "url" not in listed.json()["items"][0]
        second = share(client, job_id=job["id"], expires_in_s=DAY)
        items = client.get("/api/v1/shares").json()["items"]
        assert [s["id"] for s in items] == [second["id"], created["id"]]
        with visitor(live_app) as stranger:
            assert stranger.get(path).status_code == 200
            assert client.delete(f"/api/v1/shares/{created['id']}").status_code == 204
            assert stranger.get(path).status_code == 404
            # The other link to the same job still works.
            assert stranger.get(path_of(second["url"], live_app)).status_code == 200
        # Revoking again is a no-op, still 204.
        assert client.delete(f"/api/v1/shares/{created['id']}").status_code == 204
        remaining = client.get("/api/v1/shares", params={"job_id": job["id"]}).json()["items"]
        assert [s["id"] for s in remaining] == [second["id"]]
        assert client.delete("/api/v1/shares/no-such-share").status_code == 404


def test_what_cannot_be_shared_is_422(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with live_app.client(user) as client:
        job = finished_job(live_app, client)
        pack_id = make_pack(live_app, user, [])
        bad_bodies = [
            {},
            {"expires_in_s": 3600},
            {"job_id": job["id"], "pack_id": pack_id},
            {"job_id": job["id"], "expires_in_s": 59},
            {"job_id": job["id"], "expires_in_s": MAX_EXPIRES_S + 1},
            {"job_id": job["id"], "expires_in_s": "soon"},
            {"job_id": job["id"], "public": True},
        ]
        for body in bad_bodies:
            reply = client.post("/api/v1/shares", json=body)
            assert reply.status_code == 422, (body, reply.text)
            assert reply.json()["error"]["code"] == "invalid_input"
        for seconds in (60, MAX_EXPIRES_S):
            assert share(client, job_id=job["id"], expires_in_s=seconds)["id"]
        # An unfinished job cannot be shared; a pack in any state can.
        live_app.emulator.settings.image_duration_s = 60
        running = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Wait"})
        reply = client.post("/api/v1/shares", json={"job_id": running.json()["id"]})
        assert reply.status_code == 422 and reply.json()["error"]["field"] == "job_id"
        assert share(client, pack_id=pack_id)["pack_id"] == pack_id
        client.post(f"/api/v1/jobs/{running.json()['id']}/cancel")


def test_other_users_things_and_deleted_ones_are_404(live_app: LiveApp) -> None:
    owner, stranger = live_app.user(credits=3), live_app.user(credits=1)
    with live_app.client(owner) as client:
        job, deleted = finished_job(live_app, client), finished_job(live_app, client)
        pack_id = make_pack(live_app, owner, [])
        gone_pack = make_pack(live_app, owner, [])
        created = share(client, job_id=job["id"])
        assert client.delete(f"/api/v1/jobs/{deleted['id']}").status_code == 204
        with live_app.db.session() as session:
            session.execute(
                sa.update(Pack).where(Pack.id == gone_pack).values(deleted_at=datetime.now(UTC))
            )
        for body in ({"job_id": deleted["id"]}, {"pack_id": gone_pack}):
            assert client.post("/api/v1/shares", json=body).status_code == 404
    with live_app.client(stranger) as client:
        for body in (
            {"job_id": job["id"]},
            {"pack_id": pack_id},
            {"job_id": "00000000-0000-4000-8000-000000000000"},
            {"pack_id": "nope"},
        ):
            reply = client.post("/api/v1/shares", json=body)
            assert reply.status_code == 404, body
            assert reply.json()["error"]["code"] == "not_found"
        # Same answer whether the job exists or not.
        unknown = client.post("/api/v1/shares", json={"job_id": "nope"}).json()
        theirs = client.post("/api/v1/shares", json={"job_id": job["id"]}).json()
        assert unknown == theirs
        assert client.delete(f"/api/v1/shares/{created['id']}").status_code == 404
        assert client.get("/api/v1/shares").json()["items"] == []
        assert client.get("/api/v1/shares", params={"job_id": job["id"]}).json()["items"] == []
    with visitor(live_app) as anyone:
        assert anyone.get(path_of(created["url"], live_app)).status_code == 200
        assert anyone.get("/api/v1/shares").status_code == 401
        assert anyone.post("/api/v1/shares", json={"job_id": job["id"]}).status_code == 401


def test_an_expired_link_answers_410_and_leaves_the_list(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        job = finished_job(live_app, client)
        created = share(client, job_id=job["id"], expires_in_s=60)
        path = path_of(created["url"], live_app)
        with visitor(live_app) as anyone:
            assert anyone.get(path).status_code == 200
            with live_app.db.session() as session:
                session.execute(
                    sa.update(Share)
                    .where(Share.id == created["id"])
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
            page = anyone.get(path)
            assert page.status_code == 410 and "expired" in page.text
            assert anyone.get(f"{path}/files/{job['id']}").status_code == 410
        assert client.get("/api/v1/shares").json()["items"] == []
        # Revoking an expired link is allowed (204); the page then says 404, not 410.
        assert client.delete(f"/api/v1/shares/{created['id']}").status_code == 204
        with visitor(live_app) as anyone:
            assert anyone.get(path).status_code == 404
