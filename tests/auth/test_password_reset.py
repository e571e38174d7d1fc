"""Password resets: a one-time link (from the CLI, or by email when SMTP is set up) sets a new
password and logs out every browser; asking for one tells nobody which accounts exist."""

from __future__ import annotations

import itertools
import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr, ValidationError
from sqlalchemy import event

from image2ad.auth import resets
from image2ad.auth.mail import smtp_server
from image2ad.auth.session_store import token_hash
from image2ad.config import Settings
from image2ad.db import Database
from image2ad.errors import InvalidInput
from image2ad.models import PasswordReset, User
from image2ad.models.base import utcnow
from tests.auth.smtp_sink import smtp_sink
from tests.fixtures.emulator import wait_until
from tests.fixtures.factories import TestUser, create_user
from tests.fixtures.live_app import LiveApp
from tests.web.session import PASSWORD, Browserish, signed_in

NEW_PASSWORD = "a brand new secret"
LINK = re.compile(r"(http://\S+/reset-password\?token=([\w-]+))")
_ADDRESSES = itertools.count(1)


def issue(db: Database, user: TestUser, ttl: timedelta = resets.DEFAULT_TTL) -> str:
    with db.session() as session:
        return resets.issue(session, session.get_one(User, user.id), ttl)


def an_address() -> str:
    """A client address no other request of this run came from (limits count per address)."""
    return f"198.51.100.{next(_ADDRESSES)}"


def reset_with(live_app: LiveApp, link: str, password: str = NEW_PASSWORD) -> httpx.Response:
    """Open the link in a new browser and save `password`."""
    with Browserish(live_app) as browser:
        browser.page(link.removeprefix(live_app.base_url))
        token = LINK.findall(link)[0][1]
        return browser.submit("/reset-password", {"token": token, "password": password})


def can_log_in(live_app: LiveApp, email: str, password: str) -> bool:
    with Browserish(live_app) as browser:
        browser.http.headers["X-Forwarded-For"] = an_address()  # no login throttle between tests
        return browser.login(email, password).status_code == 303


def test_the_cli_prints_a_link_that_works_once(live_app: LiveApp, tmp_path: Path) -> None:
    user = live_app.user()
    env = {
        **os.environ,
        "IMAGE2AD_DATA_DIR": str(tmp_path),
        "IMAGE2AD_DATABASE_URL": live_app.db.url,
        "IMAGE2AD_PUBLIC_URL": live_app.base_url,
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "image2ad", "users", "reset-password", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    printed = cli(user.email.upper(), "--valid-minutes", "5")
    assert printed.returncode == 0, printed.stderr
    ((link, token),) = LINK.findall(printed.stdout)
    assert link.startswith(live_app.base_url + "/reset-password?token=")
    assert "expires at" in printed.stdout and "(in 5 min)" in printed.stdout
    with live_app.db.session(read_only=True) as session:
        query = sa.select(PasswordReset).where(PasswordReset.user_id == user.id)
        row = session.scalars(query).one()
    assert row.token_hash == token_hash(token)
    assert timedelta(minutes=4) < row.expires_at - utcnow() <= timedelta(minutes=5)

    assert reset_with(live_app, link).status_code == 303
    again = reset_with(live_app, link, "yet another password")
    assert again.status_code == 422 and resets.SPENT in again.text
    assert can_log_in(live_app, user.email, NEW_PASSWORD)

    unknown = cli("nobody-here@example.com")
    assert unknown.returncode == 1 and "No user with email" in unknown.stderr
    assert unknown.stdout == ""


def test_a_reset_sets_the_password_and_logs_out_every_browser(live_app: LiveApp) -> None:
    user = live_app.user()
    other_link = issue(live_app.db, user)
    token = issue(live_app.db, user)
    with signed_in(live_app, user) as old_browser, Browserish(live_app) as browser:
        page = browser.page(f"/reset-password?token={token}")
        assert page.status_code == 200
        # Never sent to other sites (and the form's Origin stays set for the CSRF check).
        assert page.headers["referrer-policy"] == "same-origin"
        assert f'name="token" value="{token}"' in page.text

        short = browser.submit("/reset-password", {"token": token, "password": "short"})
        assert short.status_code == 422 and "at least 8 characters" in short.text
        assert f'name="token" value="{token}"' in short.text  # a typo does not spend the link

        done = browser.submit("/reset-password", {"token": token, "password": NEW_PASSWORD})
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
        login = browser.page(done.headers["location"])
        assert "Your password was changed. Log in with the new one." in login.text
        assert "Your password was changed" not in browser.page("/login").text

        assert old_browser.api("GET", "/api/v1/me").status_code == 401

        again = browser.submit("/reset-password", {"token": token, "password": "third password"})
        assert again.status_code == 422 and resets.SPENT in again.text
        assert 'href="/forgot-password"' in again.text
        reopened = browser.page(f"/reset-password?token={token}")
        assert reopened.status_code == 422 and resets.SPENT in reopened.text
        assert 'name="token"' not in reopened.text

    assert not can_log_in(live_app, user.email, PASSWORD)
    assert can_log_in(live_app, user.email, NEW_PASSWORD)
    # Every other link of that user was spent with it.
    with pytest.raises(InvalidInput, match="expired or was already used"):
        resets.redeem(live_app.db, other_link, "from an older email")
    # API keys are not sessions: scripts keep working.
    with live_app.client(user) as api:
        assert api.get("/api/v1/me").status_code == 200


def test_an_expired_link_fails(live_app: LiveApp) -> None:
    user = live_app.user()
    token = issue(live_app.db, user, ttl=timedelta(minutes=-1))
    with Browserish(live_app) as browser:
        page = browser.page(f"/reset-password?token={token}")
        assert page.status_code == 422 and resets.SPENT in page.text
        assert 'href="/forgot-password"' in page.text
        posted = browser.submit("/reset-password", {"token": token, "password": NEW_PASSWORD})
        assert posted.status_code == 422 and resets.SPENT in posted.text
        assert browser.page("/reset-password?token=made-up").status_code == 422
    assert can_log_in(live_app, user.email, PASSWORD)


def test_issuing_clears_the_users_dead_links(db: Database) -> None:
    user = create_user(db)
    issue(db, user, ttl=timedelta(minutes=-1))
    used = issue(db, user)
    resets.redeem(db, used, NEW_PASSWORD)
    live = issue(db, user)
    with db.session(read_only=True) as session:
        hashes = session.scalars(
            sa.select(PasswordReset.token_hash).where(PasswordReset.user_id == user.id)
        ).all()
    assert hashes == [token_hash(live)]


def redeem_catching(args: tuple[Database, str, str]) -> str:
    db, token, password = args
    try:
        resets.redeem(db, token, password.ljust(8, "!"))
    except InvalidInput as exc:
        return exc.message
    return "ok"


def test_two_concurrent_redeems_use_the_link_once(db: Database) -> None:
    user = create_user(db)
    token = issue(db, user)
    start = threading.Barrier(4)

    def redeem(n: int) -> str:
        start.wait()
        return redeem_catching((db, token, f"concurrent password {n}"))

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(redeem, range(4)))
    assert sorted(outcomes) == sorted(["ok", *[resets.SPENT] * 3])
    with db.session(read_only=True) as session:
        (row,) = session.scalars(sa.select(PasswordReset).where(PasswordReset.user_id == user.id))
        assert row.used_at is not None


def test_two_redeems_past_the_check_at_once_still_use_the_link_once(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite's BEGIN IMMEDIATE lets one writer at a time past the check")
    user = create_user(db)
    token = issue(db, user)
    both_checked = threading.Barrier(2, timeout=10)
    waited = threading.local()

    def hold_the_claim(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        # Both transactions have found the token live before either claims it.
        if statement.startswith("UPDATE password_resets") and not getattr(waited, "done", 0):
            waited.done = 1
            both_checked.wait()

    event.listen(db.engine, "before_cursor_execute", hold_the_claim)
    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(redeem_catching, [(db, token, "one"), (db, token, "two")]))
    finally:
        event.remove(db.engine, "before_cursor_execute", hold_the_claim)
    assert sorted(outcomes) == sorted(["ok", resets.SPENT])


def test_without_smtp_the_page_names_the_command(live_app: LiveApp) -> None:
    with Browserish(live_app) as browser:
        login = browser.page("/login")
        assert 'href="/forgot-password">Forgot your password?' in login.text
        page = browser.page("/forgot-password")
        assert page.status_code == 200
        assert "<code>image2ad users reset-password you@example.com</code>" in page.text
        assert 'name="email"' not in page.text


@pytest.fixture
def mail(live_app: LiveApp) -> Iterator[list[EmailMessage]]:
    """The live app sending mail to a sink; yields the messages as they arrive."""
    settings = live_app.app.state.runtime.settings
    with smtp_sink() as (url, messages):
        settings.smtp_url = SecretStr(url)
        try:
            yield messages
        finally:
            settings.smtp_url = None


def ask_for_link(live_app: LiveApp, browser: Browserish, email: str) -> str:
    browser.page("/forgot-password")
    response = browser.submit("/forgot-password", {"email": email})
    assert response.status_code == 200, response.text
    return response.text


def test_forgot_password_answers_the_same_and_mails_only_real_accounts(
    live_app: LiveApp, mail: list[EmailMessage]
) -> None:
    user = live_app.user()
    with Browserish(live_app) as browser:
        browser.http.headers["X-Forwarded-For"] = an_address()
        form = browser.page("/forgot-password").text
        assert 'name="email"' in form and "Send reset link" in form
        unknown = ask_for_link(live_app, browser, f"nobody-{user.email}")
        known = ask_for_link(live_app, browser, user.email.upper())
    assert known == unknown
    assert "If an account exists for that address, a reset link is on its way." in known

    wait_until(lambda: len(mail) == 1)
    (message,) = mail
    assert message["To"] == user.email
    assert message["From"] == "image2ad@127.0.0.1"
    ((link, _token),) = LINK.findall(message.get_content())
    assert link.startswith(live_app.base_url + "/reset-password?token=")
    assert reset_with(live_app, link).status_code == 303
    assert can_log_in(live_app, user.email, NEW_PASSWORD)
    assert len(mail) == 1


def test_forgot_password_is_limited_per_address(
    live_app: LiveApp, mail: list[EmailMessage]
) -> None:
    user = live_app.user()
    assert Settings.model_fields["password_reset_rate_limit"].default == "5/hour"
    with Browserish(live_app) as browser:
        browser.http.headers["X-Forwarded-For"] = an_address()
        for _ in range(5):
            ask_for_link(live_app, browser, f"probe-{uuid.uuid4().hex}@example.com")
        browser.page("/forgot-password")
        refused = browser.submit("/forgot-password", {"email": user.email})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "Too many reset requests" in refused.text
        # Another address is not affected.
        browser.http.headers["X-Forwarded-For"] = an_address()
        ask_for_link(live_app, browser, user.email)
    wait_until(lambda: len(mail) == 1)


def test_a_failed_send_is_logged_without_the_link(
    live_app: LiveApp, caplog: pytest.LogCaptureFixture
) -> None:
    user = live_app.user()
    settings = live_app.app.state.runtime.settings
    with smtp_sink() as (url, _):
        pass  # a port nobody listens on any more
    settings.smtp_url = SecretStr(url)
    try:
        with caplog.at_level(logging.WARNING, "image2ad.mail"), Browserish(live_app) as browser:
            browser.http.headers["X-Forwarded-For"] = an_address()
            assert "a reset link is on its way" in ask_for_link(live_app, browser, user.email)
            wait_until(lambda: "could not email" in caplog.text)
    finally:
        settings.smtp_url = None
    assert "token" not in caplog.text and "reset-password" not in caplog.text


def test_smtp_urls() -> None:
    tls = smtp_server("smtps://me%40example.com:p%3Ass@mail.example.com")
    assert (tls.host, tls.port, tls.implicit_tls) == ("mail.example.com", 465, True)
    assert (tls.username, tls.password) == ("me@example.com", "p:ss")
    relay = smtp_server("smtp://relay.internal")
    assert (relay.port, relay.implicit_tls, relay.username) == (25, False, None)
    assert smtp_server("smtp://u:p@mail.example.com:587").port == 587
    with pytest.raises(ValidationError, match="smtp://"):
        Settings(smtp_url="https://mail.example.com")  # type: ignore[arg-type]
    settings = Settings(public_url="https://ads.example.com/", smtp_url="")  # type: ignore[arg-type]
    assert settings.smtp_url is None and settings.resolved_mail_from == "image2ad@ads.example.com"
