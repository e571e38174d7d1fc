"""The jobs API contract: auth, validation, credits, idempotency, privacy, CORS."""

from __future__ import annotations

import concurrent.futures

import sqlalchemy as sa

from image2ad.models import CreditEntry, Job
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp

BODY = {"type": "text-to-image", "prompt": "Cold brew can on ice, 20% off"}


def test_requests_without_a_valid_key_get_401(live_app: LiveApp) -> None:
    with live_app.client() as client:
        for headers in ({}, {"Authorization": "Bearer i2a_not-a-key"}, {"Authorization": "x"}):
            response = client.get("/api/v1/me", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "not_authenticated"
        assert client.post("/api/v1/jobs", json=BODY).status_code == 401


def test_me_reports_the_balance(live_app: LiveApp) -> None:
    user = live_app.user(credits=7)
    with live_app.client(user) as client:
        assert client.get("/api/v1/me").json() == {
            "id": user.id,
            "email": user.email,
            "credits": 7,
            "credits_low": False,
        }


def test_bad_input_gets_422_naming_the_field_and_charges_nothing(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    cases = {
        "aspect_ratio": {**BODY, "aspect_ratio": "7:3"},
        "output_format": {**BODY, "output_format": "gif"},
        "prompt": {**BODY, "prompt": "x" * 5001},
        "type": {**BODY, "type": "text-to-hologram"},
        "n_frames": {**BODY, "n_frames": "10"},
        "source_upload_id": {**BODY, "source_upload_id": "abc"},
        "surprise": {**BODY, "surprise": 1},
    }
    with live_app.client(user) as client:
        for field, body in cases.items():
            response = client.post("/api/v1/jobs", json=body)
            assert response.status_code == 422, (field, response.text)
            error = response.json()["error"]
            assert field in error["message"] or error.get("field") == field, (field, error)
        blank = client.post("/api/v1/jobs", json={**BODY, "prompt": "   "})
        assert blank.status_code == 422
        assert (
            client.post(
                "/api/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        assert client.get("/api/v1/me").json()["credits"] == 2
    with live_app.db.session(read_only=True) as session:
        assert session.scalar(sa.select(sa.func.count()).where(Job.user_id == user.id)) == 0


def test_short_balance_gets_402_and_nothing_is_charged(live_app: LiveApp) -> None:
    user = live_app.user(credits=0)
    with live_app.client(user) as client:
        response = client.post("/api/v1/jobs", json=BODY)
        assert response.status_code == 402
        assert response.json()["error"]["code"] == "insufficient_credits"
        assert client.get("/api/v1/jobs").json() == {"items": [], "next_cursor": None}
    with live_app.db.session(read_only=True) as session:
        assert (
            session.scalars(
                sa.select(CreditEntry).where(
                    CreditEntry.user_id == user.id, CreditEntry.kind != "grant"
                )
            ).all()
            == []
        )


def test_parallel_jobs_never_overdraw_the_balance(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)

    def post(_: int) -> int:
        with live_app.client(user) as client:
            return client.post("/api/v1/jobs", json=BODY).status_code

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(post, range(12)))
    assert statuses == [202] * 3 + [402] * 9
    assert_ledger_invariants(live_app.db, user.id)


def test_same_idempotency_key_returns_the_same_job(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with live_app.client(user) as client:
        headers = {"Idempotency-Key": "order-42"}
        first = client.post("/api/v1/jobs", json=BODY, headers=headers)
        second = client.post("/api/v1/jobs", json=BODY, headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json()["id"] == second.json()["id"]
        assert second.headers["Idempotent-Replayed"] == "true"
        other = client.post("/api/v1/jobs", json={**BODY, "prompt": "different"}, headers=headers)
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        assert client.get("/api/v1/me").json()["credits"] == 2
        live_app.wait_job(client, first.json()["id"])
    assert_ledger_invariants(live_app.db, user.id)


def test_parallel_requests_with_one_key_make_one_job(live_app: LiveApp) -> None:
    user = live_app.user(credits=10)

    def post(_: int) -> tuple[int, str | None]:
        with live_app.client(user) as client:
            response = client.post("/api/v1/jobs", json=BODY, headers={"Idempotency-Key": "burst"})
            return response.status_code, response.json().get("id")

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(post, range(10)))
    ids = {job_id for status, job_id in results if status == 202}
    assert len(ids) == 1, results
    assert all(status in (202, 409) for status, _ in results)
    with live_app.client(user) as client:
        assert client.get("/api/v1/me").json()["credits"] == 9
    assert_ledger_invariants(live_app.db, user.id)


def test_other_users_jobs_are_404_everywhere(live_app: LiveApp) -> None:
    owner, stranger = live_app.user(), live_app.user()
    with live_app.client(owner) as client:
        job = client.post("/api/v1/jobs", json=BODY).json()
        live_app.wait_job(client, job["id"])
    with live_app.client(stranger) as client:
        for path in (f"/api/v1/jobs/{job['id']}", f"/api/v1/jobs/{job['id']}/result"):
            response = client.get(path)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
        assert client.get("/api/v1/jobs").json()["items"] == []


def test_listing_filters_searches_and_pages(live_app: LiveApp) -> None:
    user = live_app.user(credits=5)
    with live_app.client(user) as client:
        ids = [
            client.post(
                "/api/v1/jobs", json={**BODY, "prompt": f"Poster {n} for the spring drop"}
            ).json()["id"]
            for n in range(3)
        ]
        client.post("/api/v1/jobs", json={**BODY, "prompt": "Winter boots 50%_off"})
        page = client.get("/api/v1/jobs", params={"q": "spring", "limit": 2}).json()
        assert [j["id"] for j in page["items"]] == ids[::-1][:2]
        rest = client.get(
            "/api/v1/jobs", params={"q": "spring", "limit": 2, "cursor": page["next_cursor"]}
        ).json()
        assert [j["id"] for j in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
        assert len(client.get("/api/v1/jobs", params={"q": "50%_off"}).json()["items"]) == 1
        assert client.get("/api/v1/jobs", params={"q": "%"}).json()["items"] != []
        assert client.get("/api/v1/jobs", params={"status": "canceled"}).json()["items"] == []
        assert client.get("/api/v1/jobs", params={"type": "text-to-video"}).json()["items"] == []
        assert client.get("/api/v1/jobs", params={"cursor": "garbage!"}).status_code == 422
        assert client.get("/api/v1/jobs", params={"status": "bogus"}).status_code == 422


def test_callbacks_need_the_jobs_secret(live_app: LiveApp) -> None:
    user = live_app.user()
    with live_app.client(user) as client:
        job = client.post("/api/v1/jobs", json=BODY).json()
        for path in (f"/api/v1/callbacks/kie/{job['id']}/wrong", "/api/v1/callbacks/kie/nope/x"):
            response = client.post(path, json={"data": {"taskId": "t"}})
            assert response.status_code == 404
        assert live_app.wait_job(client, job["id"])["status"] == "completed"


def test_cors_allows_only_listed_origins(live_app: LiveApp) -> None:
    with live_app.client() as client:
        for origin, allowed in (
            ("https://image2ad.com", True),
            ("http://localhost:5173", True),
            ("https://image2ad.com.evil.example", False),
            ("null", False),
            ("http://image2ad.com", False),
        ):
            response = client.options(
                "/api/v1/jobs",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            echoed = response.headers.get("access-control-allow-origin")
            assert (echoed == origin) is allowed, (origin, echoed)
            assert echoed != "*"
        # PUT /brand and PUT /jobs/{id}/star are called cross-origin too.
        preflight = client.options(
            "/api/v1/brand",
            headers={"Origin": "https://image2ad.com", "Access-Control-Request-Method": "PUT"},
        )
        assert preflight.status_code == 200, preflight.text
        assert "PUT" in preflight.headers["access-control-allow-methods"]


def test_health_and_openapi(live_app: LiveApp) -> None:
    with live_app.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        assert ready["status"] == "ok" and ready["checks"] == {"database": "ok", "storage": "ok"}
        paths = client.get("/openapi.json").json()["paths"]
        assert {
            "/api/v1/me",
            "/api/v1/jobs",
            "/api/v1/jobs/{job_id}",
            "/api/v1/jobs/{job_id}/result",
        } <= set(paths)


def test_nul_bytes_and_control_characters_get_422_not_500(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    with live_app.client(user) as client:
        response = client.post("/api/v1/jobs", json={**BODY, "prompt": "sale\u0000now"})
        assert response.status_code == 422 and response.json()["error"]["field"] == "prompt"
        assert client.get("/api/v1/jobs", params={"q": "a\x00b"}).status_code in (200, 422)
        assert client.get("/api/v1/jobs/abc%00def").status_code in (404, 422)
        assert client.get("/api/v1/me").json()["credits"] == 2
