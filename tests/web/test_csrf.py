"""S9 and R8: cookie sessions need the CSRF token and a same-site origin; API keys do not."""

from __future__ import annotations

import concurrent.futures

import sqlalchemy as sa

from image2ad.models import ApiKey, Job
from tests.fixtures.factories import assert_ledger_invariants
from tests.fixtures.live_app import LiveApp
from tests.web.session import Browserish, form_token_of, signed_in

BODY = {"type": "text-to-image", "prompt": "Lemonade stand, summer sale"}


def count_jobs(live_app: LiveApp, user_id: str) -> int:
    with live_app.db.session(read_only=True) as session:
        return session.scalar(sa.select(sa.func.count()).where(Job.user_id == user_id)) or 0


def count_keys(live_app: LiveApp, user_id: str) -> int:
    with live_app.db.session(read_only=True) as session:
        return session.scalar(sa.select(sa.func.count()).where(ApiKey.user_id == user_id)) or 0


def test_cookie_api_calls_without_the_right_token_get_403_and_change_nothing(
    live_app: LiveApp,
) -> None:
    user = live_app.user(credits=2)
    with signed_in(live_app, user) as client:
        for token in ("", "wrong", client.csrf + "x"):
            response = client.api(
                "POST", "/api/v1/jobs", json=BODY, headers={"X-CSRF-Token": token}
            )
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "csrf_failed"
        no_header = client.http.post("/api/v1/jobs", json=BODY)
        assert no_header.status_code == 403
        assert client.api("GET", "/api/v1/me").json()["credits"] == 2
        assert count_jobs(live_app, user.id) == 0
        accepted = client.api("POST", "/api/v1/jobs", json=BODY)
        assert accepted.status_code == 202
        job_id = accepted.json()["id"]
        live_app.wait_job(client.http, job_id)
        stale = client.api("DELETE", f"/api/v1/jobs/{job_id}", headers={"X-CSRF-Token": "nope"})
        assert stale.status_code == 403
        assert client.api("GET", f"/api/v1/jobs/{job_id}").status_code == 200
        assert client.api("DELETE", f"/api/v1/jobs/{job_id}").status_code == 204
    assert_ledger_invariants(live_app.db, user.id)


def test_forms_without_the_right_token_get_403_and_change_nothing(live_app: LiveApp) -> None:
    user = live_app.user()
    with signed_in(live_app, user) as client:
        for token in ("", "wrong"):
            response = client.submit("/settings/api-keys", {"name": "sneaky"}, token=token)
            assert response.status_code == 403
            assert "text/html" in response.headers["content-type"]
            assert "security token" in response.text
            assert client.submit("/logout", {}, token=token).status_code == 403
        assert count_keys(live_app, user.id) == 1  # the factory's key only
        assert client.api("GET", "/api/v1/me").status_code == 200  # still signed in
    with Browserish(live_app) as anonymous:
        response = anonymous.submit("/login", {"email": user.email, "password": "correct horse"})
        assert response.status_code == 403  # no session yet, so no token to match


def test_cross_site_requests_are_refused_even_with_the_token(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with signed_in(live_app, user) as client:
        hostile = (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": live_app.base_url.replace("127.0.0.1", "127.0.0.1.evil.example")},
            {"Origin": live_app.base_url.replace("http://", "https://")},
            {"Origin": None, "Sec-Fetch-Site": "cross-site"},
            {"Origin": None, "Sec-Fetch-Site": "same-site"},
        )
        for headers in hostile:
            sent = {k: v for k, v in headers.items() if v is not None}
            response = client.http.post(
                "/api/v1/jobs", json=BODY, headers={"X-CSRF-Token": client.csrf, **sent}
            )
            assert response.status_code == 403, headers
            form = client.http.post(
                "/settings/api-keys", data={"csrf_token": client.csrf, "name": "x"}, headers=sent
            )
            assert form.status_code == 403, headers
        assert count_jobs(live_app, user.id) == 0
        assert count_keys(live_app, user.id) == 1
        same_site = client.http.post(
            "/api/v1/jobs",
            json=BODY,
            headers={"X-CSRF-Token": client.csrf, "Sec-Fetch-Site": "same-origin"},
        )
        assert same_site.status_code == 202


def test_api_key_calls_are_not_subject_to_csrf(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        response = client.post(
            "/api/v1/jobs",
            json=BODY,
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert response.status_code == 202
        live_app.wait_job(client, response.json()["id"])


def test_a_bad_api_key_never_falls_back_to_the_cookie(live_app: LiveApp) -> None:
    user = live_app.user()
    with signed_in(live_app, user) as client:
        response = client.api("GET", "/api/v1/me", headers={"Authorization": "Bearer i2a_nope"})
        assert response.status_code == 401


def test_the_token_changes_at_login(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with Browserish(live_app) as client:
        client.page("/login")
        before = client.csrf
        client.login(user.email)
        assert client.csrf != before
        stale = client.api("POST", "/api/v1/jobs", json=BODY, headers={"X-CSRF-Token": before})
        assert stale.status_code == 403


def test_a_double_submitted_form_makes_one_job(live_app: LiveApp) -> None:
    user = live_app.user(credits=5)
    with signed_in(live_app, user) as client:
        token = form_token_of(client.page("/generate/text-to-image").text)

        def submit(_: int) -> tuple[int, str]:
            response = client.api(
                "POST", "/api/v1/jobs", json=BODY, headers={"Idempotency-Key": token}
            )
            return response.status_code, response.json().get("id", "")

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(submit, range(4)))
        ids = {job_id for status, job_id in results if status == 202}
        assert len(ids) == 1, results
        assert all(status in (202, 409) for status, _ in results), results
        assert client.api("GET", "/api/v1/me").json()["credits"] == 4
        again = client.page("/generate/text-to-image")
        assert form_token_of(again.text) != token
        live_app.wait_job(client.http, ids.pop())
    assert count_jobs(live_app, user.id) == 1
    assert_ledger_invariants(live_app.db, user.id)
