"""Favourites: `PUT|DELETE /jobs/{id}/star` (idempotent, yours only), `GET /jobs?starred=true`."""

from __future__ import annotations

import httpx

from image2ad.models import Job
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Linen shirt on a hanger"}


def create(client: httpx.Client, prompt: str = BODY["prompt"]) -> str:
    response = client.post("/api/v1/jobs", json={**BODY, "prompt": prompt})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def starred_at(live_app: LiveApp, job_id: str) -> object:
    with live_app.db.session(read_only=True) as session:
        return session.get_one(Job, job_id).starred_at


def test_star_and_unstar_are_idempotent(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        job_id = create(client)
        assert client.get(f"/api/v1/jobs/{job_id}").json()["starred"] is False
        first = client.put(f"/api/v1/jobs/{job_id}/star")
        assert first.status_code == 200 and first.json()["starred"] is True
        since = starred_at(live_app, job_id)
        again = client.put(f"/api/v1/jobs/{job_id}/star")
        assert again.status_code == 200 and again.json()["starred"] is True
        assert starred_at(live_app, job_id) == since
        assert client.get(f"/api/v1/jobs/{job_id}").json()["starred"] is True
        for _ in range(2):
            response = client.delete(f"/api/v1/jobs/{job_id}/star")
            assert response.status_code == 200 and response.json()["starred"] is False
        assert starred_at(live_app, job_id) is None
        # A job that finishes while starred stays starred.
        client.put(f"/api/v1/jobs/{job_id}/star")
        assert live_app.wait_job(client, job_id)["starred"] is True


def test_starred_filter_pages_with_the_cursor(live_app: LiveApp) -> None:
    user = live_app.user(credits=5)
    with live_app.client(user) as client:
        ids = [create(client, f"Shirt {n}") for n in range(5)]
        for job_id in ids[::2]:
            assert client.put(f"/api/v1/jobs/{job_id}/star").status_code == 200
        page = client.get("/api/v1/jobs", params={"starred": "true", "limit": 2}).json()
        assert [j["id"] for j in page["items"]] == [ids[4], ids[2]]
        assert all(j["starred"] for j in page["items"])
        rest = client.get(
            "/api/v1/jobs", params={"starred": "true", "limit": 2, "cursor": page["next_cursor"]}
        ).json()
        assert [j["id"] for j in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
        everything = client.get("/api/v1/jobs", params={"starred": "false"}).json()["items"]
        assert len(everything) == 5
        assert client.get("/api/v1/jobs", params={"starred": "maybe"}).status_code == 422


def test_other_users_and_deleted_jobs_are_404(live_app: LiveApp) -> None:
    owner, stranger = live_app.user(credits=2), live_app.user()
    with live_app.client(owner) as client:
        job_id, deleted_id = create(client), create(client)
        assert client.delete(f"/api/v1/jobs/{deleted_id}").status_code == 204
        for method in ("PUT", "DELETE"):
            response = client.request(method, f"/api/v1/jobs/{deleted_id}/star")
            assert response.status_code == 404
            assert client.request(method, "/api/v1/jobs/nope/star").status_code == 404
    with live_app.client(stranger) as client:
        for method in ("PUT", "DELETE"):
            response = client.request(method, f"/api/v1/jobs/{job_id}/star")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
        assert client.get("/api/v1/jobs", params={"starred": "true"}).json()["items"] == []
    assert starred_at(live_app, job_id) is None
