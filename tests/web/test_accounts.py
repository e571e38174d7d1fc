"""Sign up, log in, log out over HTTP: cookies, Argon2id, free credits, inline errors."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from image2ad.auth.sessions import COOKIE_NAME
from image2ad.auth.web import login_throttle
from image2ad.models import User
from tests.fixtures.live_app import LiveApp
from tests.web.session import PASSWORD, Browserish


def new_email() -> str:
    return f"web-{uuid.uuid4().hex[:10]}@example.com"


def test_signup_signs_in_with_free_credits_and_a_safe_cookie(live_app: LiveApp) -> None:
    email = new_email()
    with Browserish(live_app) as client:
        first = client.page("/signup")
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert COOKIE_NAME in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie
        response = client.submit("/signup", {"email": email.upper(), "password": PASSWORD})
        assert response.status_code == 303
        assert response.headers["location"] == "/generate/text-to-image"
        me = client.api("GET", "/api/v1/me").json()
        assert me["email"] == email and me["credits"] == 10
        page = client.page("/generate/text-to-image")
        assert 'id="credit-balance" data-credits="10"' in page.text
    with live_app.db.session(read_only=True) as session:
        user = session.scalars(sa.select(User).where(User.email == email)).one()
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_the_cookie_is_secure_behind_an_https_proxy(live_app: LiveApp) -> None:
    with Browserish(live_app) as client:
        response = client.http.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in response.headers["set-cookie"]


def test_signup_errors_are_shown_inline_and_create_nothing(live_app: LiveApp) -> None:
    email = new_email()
    with Browserish(live_app) as client:
        assert client.signup(email).status_code == 303
    cases = [
        ({"email": email, "password": PASSWORD}, 409, "already exists"),
        ({"email": "not-an-email", "password": PASSWORD}, 422, "valid email"),
        ({"email": new_email(), "password": "short"}, 422, "at least 8 characters"),
        ({"email": new_email(), "password": "x" * 1025}, 422, "at most 1024"),
    ]
    for form, status, message in cases:
        with Browserish(live_app) as client:
            client.page("/signup")
            response = client.submit("/signup", form)
            assert response.status_code == status, form
            assert message in response.text
            assert 'role="alert"' in response.text
            assert client.api("GET", "/api/v1/me").status_code == 401
    with live_app.db.session(read_only=True) as session:
        emails = session.scalars(sa.select(User.email).where(User.email.like("web-%"))).all()
        assert emails.count(email) == 1


def test_login_wrong_password_unknown_user_and_logout(live_app: LiveApp) -> None:
    user = live_app.user()
    with Browserish(live_app) as client:
        for email, password in ((user.email, "wrong password"), (new_email(), PASSWORD)):
            response = client.login(email, password)
            assert response.status_code == 401
            assert "Email or password is incorrect." in response.text
            assert client.api("GET", "/api/v1/me").status_code == 401
        response = client.login(user.email.upper(), PASSWORD)
        assert response.status_code == 303
        assert client.api("GET", "/api/v1/me").json()["id"] == user.id
        logout = client.submit("/logout", {})
        assert logout.status_code == 303 and logout.headers["location"] == "/login"
        assert client.api("GET", "/api/v1/me").status_code == 401
        assert client.http.get("/library").status_code == 303


def test_pages_send_visitors_to_login_and_back(live_app: LiveApp) -> None:
    user = live_app.user()
    with Browserish(live_app) as client:
        response = client.http.get("/library?type=text-to-image")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Flibrary%3Ftype%3Dtext-to-image"
        # A browser that never signed in is offered an account; one that did, the login.
        assert client.http.get("/").headers["location"] == "/signup"
        login = client.login(user.email, next="/library?type=text-to-image")
        assert login.headers["location"] == "/library?type=text-to-image"
        assert client.http.get("/").headers["location"] == "/generate/text-to-image"
        assert client.http.get("/login").headers["location"] == "/generate/text-to-image"
        client.submit("/logout", {})
        assert client.http.get("/").headers["location"] == "/login"


def test_login_never_redirects_off_site(live_app: LiveApp) -> None:
    user = live_app.user()
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "library"):
        with Browserish(live_app) as client:
            response = client.login(user.email, next=target)
            assert response.headers["location"] == "/generate/text-to-image", target


def test_repeated_wrong_passwords_get_429_with_retry_after(live_app: LiveApp) -> None:
    user = live_app.user()
    with Browserish(live_app) as client:
        for _ in range(login_throttle.rules["a"].free):
            assert client.login(user.email, "wrong password").status_code == 401
        blocked = client.login(user.email, PASSWORD)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        assert "Too many failed attempts" in blocked.text
        assert client.api("GET", "/api/v1/me").status_code == 401
    login_throttle.succeeded(user.email, "127.0.0.1")
