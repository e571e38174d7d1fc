"""The admin API: find a user by email, and make them a password reset link that works."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from image2ad.models import User
from tests.auth.test_password_reset import LINK, NEW_PASSWORD, can_log_in, reset_with
from tests.fixtures.factories import TestUser
from tests.fixtures.live_app import LiveApp
from tests.web.session import PASSWORD

USERS = "/api/v1/admin/users"


def reset_path(user_id: str) -> str:
    return f"{USERS}/{user_id}/password-reset"


def an_admin(live_app: LiveApp) -> TestUser:
    admin = live_app.user(credits=0)
    with live_app.db.session() as session:
        session.execute(sa.update(User).where(User.id == admin.id).values(is_admin=True))
    return admin


def test_an_admin_finds_the_user_and_gets_a_link_that_resets_the_password(
    live_app: LiveApp,
) -> None:
    admin, user = an_admin(live_app), live_app.user(credits=3)
    with live_app.client(admin) as client:
        found = client.get(USERS, params={"email": user.email.upper()})
        assert found.status_code == 200, found.text
        (item,) = found.json()["items"]
        assert item["id"] == user.id and item["email"] == user.email
        assert item["credits"] == 3 and item["is_admin"] is False
        datetime.fromisoformat(item["created_at"])

        before = datetime.now(UTC)
        issued = client.post(reset_path(item["id"]))
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert set(body) == {"url", "expires_at"}
    ((link, _token),) = LINK.findall(body["url"])
    assert link == body["url"]
    assert link.startswith(f"{live_app.base_url}/reset-password?token=")
    expires = datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(minutes=59) < expires <= datetime.now(UTC) + timedelta(minutes=60)

    assert reset_with(live_app, link).status_code == 303
    assert can_log_in(live_app, user.email, NEW_PASSWORD)
    assert not can_log_in(live_app, user.email, PASSWORD)
    assert reset_with(live_app, link, "yet another password").status_code == 422  # once only


def test_only_an_admin_may(live_app: LiveApp) -> None:
    user, other = live_app.user(credits=0), live_app.user(credits=0)
    with live_app.client(user) as client:
        for reply in (client.post(reset_path(other.id)), client.get(USERS)):
            assert reply.status_code == 403, reply.text
            assert reply.json()["error"]["code"] == "forbidden"
    with live_app.client() as anonymous:
        for reply in (anonymous.post(reset_path(other.id)), anonymous.get(USERS)):
            assert reply.status_code == 401, reply.text
            assert reply.json()["error"]["code"] == "not_authenticated"
    # Nothing was issued: the user's password still works.
    assert can_log_in(live_app, other.email, PASSWORD)


def test_an_unknown_user_is_404(live_app: LiveApp) -> None:
    admin = an_admin(live_app)
    with live_app.client(admin) as client:
        for user_id in (str(uuid.uuid4()), "not-a-user"):
            reply = client.post(reset_path(user_id))
            assert reply.status_code == 404, reply.text
            assert reply.json()["error"]["code"] == "not_found"


def test_the_search_takes_a_prefix_exact_match_first_at_most_50(live_app: LiveApp) -> None:
    admin = an_admin(live_app)
    tag = uuid.uuid4().hex[:8]
    exact = f"shop-{tag}@example.com"
    with live_app.db.session() as session:
        session.add_all(
            [User(email=exact, credits=1), User(email=f"{exact}.au")]
            + [User(email=f"shop-{tag}-{n:02d}@example.com") for n in range(60)]
            + [User(email=f"shop_{tag}@example.com"), User(email=f"shop%{tag}@example.com")]
        )
    with live_app.client(admin) as client:

        def emails(query: str) -> list[str]:
            reply = client.get(USERS, params={"email": query})
            assert reply.status_code == 200, reply.text
            return [item["email"] for item in reply.json()["items"]]

        numbered = [f"shop-{tag}-{n:02d}@example.com" for n in range(50)]
        assert emails(f"SHOP-{tag}-") == numbered  # case does not matter; at most 50
        assert emails(f"shop-{tag}-0") == numbered[:10]
        assert emails(exact) == [exact, f"{exact}.au"]
        # LIKE's wildcards are taken literally.
        assert emails(f"shop_{tag}") == [f"shop_{tag}@example.com"]
        assert emails(f"shop%{tag}") == [f"shop%{tag}@example.com"]
        assert emails(f"nobody-{tag}") == []
        assert len(client.get(USERS).json()["items"]) == 50
        assert client.get(USERS, params={"email": "x" * 321}).status_code == 422
