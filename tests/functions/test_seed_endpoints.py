"""The seed's `/functions/v1/generate-*`: a job held open until it ends, answered in the seed's
shape; imageUrl fetched SSRF-safely; API keys and Supabase user tokens; CORS (docs/adr/0017)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from image2ad.config import SupabaseSettings
from image2ad.models import Job, SupabaseIdentity, User
from tests.fixtures.factories import TestUser, assert_ledger_invariants, create_user
from tests.fixtures.images import image_bytes
from tests.fixtures.live_app import LiveApp
from tests.functions.conftest import ImageHost, Route

DEFAULT_SUBJECT = "5b0a3c1e-7d9f-4f61-9d0e-1f2a3b4c5d6e"
SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
TEXT = {"generate-text-image": "image", "generate-text-video": "video"}
IMAGE = {"generate-image-image": "image", "generate-image-video": "video"}


@pytest.fixture
def allowed_host(live_app: LiveApp, image_host: ImageHost) -> Iterator[ImageHost]:
    functions = live_app.app.state.runtime.settings.functions
    saved = functions.http_origins
    functions.http_origins = [image_host.origin]
    yield image_host
    functions.http_origins = saved


@pytest.fixture
def supabase(live_app: LiveApp) -> Iterator[LiveApp]:
    settings = live_app.app.state.runtime.settings
    saved = settings.supabase
    settings.supabase = SupabaseSettings(jwt_secret=SecretStr(SECRET))
    yield live_app
    settings.supabase = saved


def call(
    live_app: LiveApp, name: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    with httpx.Client(base_url=live_app.base_url, timeout=60) as client:
        return client.post(f"/functions/v1/{name}", json=body, headers=headers or {})


def token(key: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": DEFAULT_SUBJECT,
        "email": "seed-user@example.com",
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + 3600,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def jobs_of(live_app: LiveApp, user_id: str) -> list[Job]:
    with live_app.db.session(read_only=True) as session:
        return list(session.scalars(sa.select(Job).where(Job.user_id == user_id)))


def credits_of(live_app: LiveApp, user_id: str) -> int:
    with live_app.db.session(read_only=True) as session:
        return session.get_one(User, user_id).credits


def assert_seed_success(
    live_app: LiveApp, user: TestUser, answer: httpx.Response, kind: str
) -> None:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["success"] is True and body["result_type"] == kind
    assert body["result_path"].startswith(f"results/{user.id}/")
    assert body["result_url"].startswith(live_app.base_url + "/")
    with live_app.client(user) as client:
        job = client.get(f"/api/v1/jobs/{body['jobId']}").json()
        assert job["status"] == "completed" and job["result_path"] == body["result_path"]
        assert job["credits_charged"] >= 1 and job["credits_refunded"] == 0
    result = httpx.get(body["result_url"], timeout=30)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith(kind)


@pytest.mark.parametrize("name", sorted(TEXT))
def test_text_functions_answer_like_the_seed_once_the_job_completes(
    live_app: LiveApp, name: str
) -> None:
    user = live_app.user(credits=3)
    # The seed's front-end may send fields the functions never read: they are ignored.
    body = {"prompt": "Iced coffee, SUMMER SALE", "aspect_ratio": "16:9", "style": "bold"}
    answer = call(live_app, name, body, user.headers)
    assert_seed_success(live_app, user, answer, TEXT[name])
    assert_ledger_invariants(live_app.db, user.id)


@pytest.mark.parametrize("name", sorted(IMAGE))
def test_image_functions_take_an_upload_of_yours(live_app: LiveApp, name: str) -> None:
    user = live_app.user(credits=3)
    with live_app.client(user) as client:
        upload = client.post(
            "/api/v1/uploads", files={"file": ("ref.png", image_bytes(), "image/png")}
        ).json()
    answer = call(
        live_app, name, {"prompt": "The can turns", "source_upload_id": upload["id"]}, user.headers
    )
    assert_seed_success(live_app, user, answer, IMAGE[name])
    [job] = jobs_of(live_app, user.id)
    assert job.source_upload_id == upload["id"]


@pytest.mark.parametrize("name", sorted(IMAGE))
def test_image_functions_fetch_an_image_url(
    live_app: LiveApp, allowed_host: ImageHost, name: str
) -> None:
    user = live_app.user(credits=3)
    allowed_host.routes["/can.png"] = Route(body=image_bytes(size=(96, 64)))
    body = {"prompt": "The can turns", "imageUrl": allowed_host.url("/can.png")}
    answer = call(live_app, name, body, user.headers)
    assert_seed_success(live_app, user, answer, IMAGE[name])
    assert allowed_host.hits == ["/can.png"]
    [job] = jobs_of(live_app, user.id)
    with live_app.client(user) as client:
        upload = client.get(f"/api/v1/uploads/{job.source_upload_id}").json()
    assert (upload["width"], upload["height"], upload["content_type"]) == (96, 64, "image/png")


def test_image_url_to_a_private_or_unlisted_address_is_refused_before_connecting(
    live_app: LiveApp, image_host: ImageHost
) -> None:
    user = live_app.user(credits=3)
    image_host.routes["/can.png"] = Route(body=image_bytes())
    for url in (
        image_host.url("/can.png"),  # loopback over http, not listed
        "https://127.0.0.1/can.png",
        "https://10.0.0.7/can.png",
        "https://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
    ):
        answer = call(
            live_app, "generate-image-image", {"prompt": "p", "imageUrl": url}, user.headers
        )
        assert answer.status_code == 422, (url, answer.text)
        body = answer.json()
        assert body["success"] is False and body["code"] == "image_url_refused", body
        assert body["error"].startswith("imageUrl was refused")
    assert image_host.hits == []
    assert jobs_of(live_app, user.id) == [] and credits_of(live_app, user.id) == 3


def test_image_url_redirects_huge_and_non_image_bodies_are_refused(
    live_app: LiveApp, allowed_host: ImageHost
) -> None:
    user = live_app.user(credits=3)
    allowed_host.routes["/hop"] = Route(status=302, headers={"Location": "https://10.1.2.3/x.png"})
    allowed_host.routes["/huge.png"] = Route(body=b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * 1024 * 1024))
    allowed_host.routes["/page.html"] = Route(body=b"<html>not an image</html>")
    expected = {
        "/hop": (422, "image_url_refused"),
        "/huge.png": (413, "payload_too_large"),
        "/page.html": (415, "unsupported_media_type"),
        "/missing.png": (422, "image_url_refused"),
    }
    for path, (status, code) in expected.items():
        body = {"prompt": "p", "imageUrl": allowed_host.url(path)}
        answer = call(live_app, "generate-image-video", body, user.headers)
        assert (answer.status_code, answer.json()["code"]) == (status, code), (path, answer.text)
        assert answer.json()["success"] is False and "imageUrl" in answer.json()["error"]
    assert jobs_of(live_app, user.id) == [] and credits_of(live_app, user.id) == 3


def test_without_a_valid_key_401_in_the_seed_shape(live_app: LiveApp) -> None:
    for headers in ({}, bearer("i2a_not-a-key"), {"Authorization": "Basic eDp5"}, bearer(token())):
        answer = call(live_app, "generate-text-image", {"prompt": "p"}, headers)
        assert answer.status_code == 401, headers
        assert answer.json()["success"] is False and answer.json()["code"] == "not_authenticated"
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_out_of_credits_is_402_with_nothing_charged(live_app: LiveApp) -> None:
    user = live_app.user(credits=0)
    answer = call(live_app, "generate-text-video", {"prompt": "Hero shot"}, user.headers)
    assert answer.status_code == 402
    assert answer.json() == {
        "success": False,
        "error": answer.json()["error"],
        "code": "insufficient_credits",
        "jobId": None,
        "status": None,
    }
    assert jobs_of(live_app, user.id) == [] and credits_of(live_app, user.id) == 0


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("generate-text-image", {}, "prompt"),
        ("generate-text-image", {"prompt": ""}, "prompt"),
        ("generate-text-image", ["prompt"], None),
        ("generate-image-image", {"prompt": "p"}, "imageUrl"),
        (
            "generate-image-video",
            {"prompt": "p", "imageUrl": "https://a.example/x.png", "source_upload_id": "u"},
            "imageUrl",
        ),
        ("generate-text-video", {"prompt": "p", "source_upload_id": "u"}, "imageUrl"),
        ("generate-text-image", {"prompt": "p", "aspect_ratio": "7:3"}, "aspect_ratio"),
    ],
)
def test_bad_input_is_422_with_nothing_charged(
    live_app: LiveApp, name: str, body: Any, field: str | None
) -> None:
    user = live_app.user(credits=2)
    answer = call(live_app, name, body, user.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["success"] is False and answer.json()["code"] == "invalid_input"
    if field:
        assert field in answer.json()["error"]
    assert jobs_of(live_app, user.id) == [] and credits_of(live_app, user.id) == 2


def test_a_body_that_is_not_json_is_422(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with httpx.Client(base_url=live_app.base_url, headers=user.headers) as client:
        answer = client.post("/functions/v1/generate-text-image", content=b"{not json")
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_input"


def test_a_paused_model_is_409_refunded_then_refused_up_front(live_app: LiveApp) -> None:
    user = live_app.user(credits=2)
    live_app.emulator.settings.paused_models = frozenset({"kling-3.0/video"})
    failed = call(live_app, "generate-text-video", {"prompt": "Hero shot"}, user.headers)
    assert failed.status_code == 409, failed.text
    assert failed.json()["code"] == "model_unavailable" and failed.json()["status"] == "failed"
    assert failed.json()["jobId"]
    refused = call(live_app, "generate-text-video", {"prompt": "Hero shot"}, user.headers)
    assert refused.status_code == 409 and refused.json()["jobId"] is None
    assert credits_of(live_app, user.id) == 2
    assert_ledger_invariants(live_app.db, user.id)


def test_when_the_wait_runs_out_504_names_the_job_which_still_completes(
    live_app: LiveApp,
) -> None:
    settings = live_app.app.state.runtime.settings
    saved = settings.functions.wait_s
    settings.functions.wait_s = 0.5
    live_app.emulator.settings.image_duration_s = 3.0
    user = live_app.user(credits=1)
    try:
        started = time.monotonic()
        answer = call(live_app, "generate-text-image", {"prompt": "Slow one"}, user.headers)
        assert time.monotonic() - started < 3.0
    finally:
        settings.functions.wait_s = saved
    assert answer.status_code == 504, answer.text
    body = answer.json()
    assert body["success"] is False and body["code"] == "timeout"
    assert body["status"] in ("pending", "processing")
    with live_app.client(user) as client:
        assert live_app.wait_job(client, body["jobId"])["status"] == "completed"
    assert_ledger_invariants(live_app.db, user.id)


def test_a_client_that_goes_away_does_not_cancel_the_job(live_app: LiveApp) -> None:
    live_app.emulator.settings.image_duration_s = 2.0
    user = live_app.user(credits=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{live_app.base_url}/functions/v1/generate-text-image",
            json={"prompt": "Left early"},
            headers=user.headers,
            timeout=httpx.Timeout(30, read=0.5),
        )
    deadline = time.monotonic() + 10
    while not jobs_of(live_app, user.id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [job] = jobs_of(live_app, user.id)
    with live_app.client(user) as client:
        assert live_app.wait_job(client, job.id)["status"] == "completed"


def test_a_supabase_user_token_acts_as_a_linked_local_account(supabase: LiveApp) -> None:
    subject = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
    claims = {"sub": subject, "email": f"{subject[:8]}@example.com"}
    first = call(supabase, "generate-text-image", {"prompt": "p"}, bearer(token(**claims)))
    assert first.status_code == 200 and first.json()["success"] is True, first.text
    again = call(supabase, "generate-text-image", {"prompt": "q"}, bearer(token(**claims)))
    assert again.status_code == 200, again.text
    with supabase.db.session(read_only=True) as session:
        identity = session.get_one(SupabaseIdentity, subject)
        user = session.get_one(User, identity.user_id)
        assert user.email == claims["email"]
        signup_credits = supabase.app.state.runtime.settings.signup_credits
        assert user.credits == signup_credits - 2
    jobs = jobs_of(supabase, identity.user_id)
    assert {j.id for j in jobs} == {first.json()["jobId"], again.json()["jobId"]}


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"key": "another-secret-of-at-least-thirty-two-characters"}, "not valid"),
        ({"aud": "anon"}, "not for"),
        ({"sub": ""}, "names no user"),
    ],
)
def test_a_bad_supabase_token_is_401(supabase: LiveApp, claims: dict[str, Any], why: str) -> None:
    answer = call(supabase, "generate-text-image", {"prompt": "p"}, bearer(token(**claims)))
    assert answer.status_code == 401, answer.text
    assert why in answer.json()["error"]
    with supabase.db.session(read_only=True) as session:
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(SupabaseIdentity)
                .where(SupabaseIdentity.subject == token_subject(claims))
            )
            == 0
        )


def token_subject(claims: dict[str, Any]) -> str:
    return str(claims.get("sub", DEFAULT_SUBJECT))


def test_a_token_whose_email_has_an_unlinked_account_is_refused(supabase: LiveApp) -> None:
    local = create_user(supabase.db, credits=1)
    claims = {"sub": "7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928", "email": local.email}
    answer = call(supabase, "generate-text-image", {"prompt": "p"}, bearer(token(**claims)))
    assert answer.status_code == 409 and answer.json()["code"] == "conflict", answer.text
    assert jobs_of(supabase, local.id) == [] and credits_of(supabase, local.id) == 1


def test_an_api_key_still_works_when_supabase_tokens_are_on(supabase: LiveApp) -> None:
    user = supabase.user(credits=1)
    answer = call(supabase, "generate-text-image", {"prompt": "p"}, user.headers)
    assert_seed_success(supabase, user, answer, "image")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://image2ad.com", True), ("https://image2ad.com.evil.example", False)],
)
def test_cors_preflight_answers_the_seed_origins_only(
    live_app: LiveApp, origin: str, allowed: bool
) -> None:
    answer = httpx.options(
        f"{live_app.base_url}/functions/v1/generate-image-video",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, x-client-info, apikey, content-type",
        },
    )
    if allowed:
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == origin
        assert "POST" in answer.headers["access-control-allow-methods"]
        assert "x-client-info" in answer.headers["access-control-allow-headers"].lower()
    else:
        assert answer.status_code == 400
        assert "access-control-allow-origin" not in answer.headers
