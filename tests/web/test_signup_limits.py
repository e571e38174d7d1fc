"""Finding 5 of issue 11: free credits are not on tap.

Sign-ups are limited per client address (IMAGE2AD_SIGNUP_RATE_LIMIT, default 5/hour); an attempt
on a taken email counts like a new account, so probing for accounts costs the same. The answer
for a taken email stays explicit (docs/adr/0009-sessions-and-sign-in-limits.md says why).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from image2ad.config import Settings
from image2ad.models import User
from tests.fixtures.hostile import report
from tests.fixtures.live_app import LiveApp
from tests.web.session import PASSWORD, Browserish


def new_email() -> str:
    return f"signup-{uuid.uuid4().hex[:10]}@example.com"


def an_address() -> str:
    return f"192.0.2.{random.randint(1, 254)}"


@pytest.fixture
def default_limit(live_app: LiveApp) -> Iterator[str]:
    """The live app with the shipped sign-up limit (the fixture raises it for other tests)."""
    settings = live_app.app.state.runtime.settings
    saved = settings.signup_rate_limit
    settings.signup_rate_limit = Settings.model_fields["signup_rate_limit"].default
    try:
        yield settings.signup_rate_limit
    finally:
        settings.signup_rate_limit = saved


def signup_from(live_app: LiveApp, address: str, email: str) -> int:
    with Browserish(live_app) as browser:
        browser.http.headers["X-Forwarded-For"] = address
        return browser.signup(email).status_code


def count_users(live_app: LiveApp, emails: list[str]) -> int:
    with live_app.db.session(read_only=True) as session:
        return session.scalar(sa.select(sa.func.count()).where(User.email.in_(emails))) or 0


def test_sign_ups_per_address_are_limited(live_app: LiveApp, default_limit: str) -> None:
    assert default_limit == "5/hour"
    address = f"192.0.2.{random.randint(1, 254)}"
    emails = [new_email() for _ in range(20)]
    statuses = [signup_from(live_app, address, email) for email in emails]
    created = count_users(live_app, emails)
    assert report(
        "5. free credits on tap",
        f"tests/web/test_signup_limits.py::test_sign_ups_per_address_are_limited"
        f"[{live_app.backend}]",
        expected="20 sign-ups from one address: 5 accounts, then 429",
        observed=f"accounts created: {created}; statuses {sorted(set(statuses))}",
        passed=created == 5 and statuses[5:] == [429] * 15,
    )
    with Browserish(live_app) as browser:
        browser.http.headers["X-Forwarded-For"] = address
        browser.page("/signup")
        refused = browser.submit("/signup", {"email": new_email(), "password": PASSWORD})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Too many new accounts" in refused.text
    # Another address is not affected.
    assert signup_from(live_app, an_address(), new_email()) == 303


def test_probing_taken_emails_counts_against_the_same_limit(
    live_app: LiveApp, default_limit: str
) -> None:
    taken = live_app.user()
    address = f"192.0.2.{random.randint(1, 254)}"
    probes = [signup_from(live_app, address, taken.email) for _ in range(5)]
    assert probes == [409] * 5
    assert signup_from(live_app, address, new_email()) == 429
    assert signup_from(live_app, address, taken.email) == 429
    # Mistyped forms are not counted.
    with Browserish(live_app) as browser:
        browser.http.headers["X-Forwarded-For"] = an_address()
        for _ in range(6):
            browser.page("/signup")
            assert (
                browser.submit("/signup", {"email": "x@", "password": PASSWORD}).status_code == 422
            )
            browser.page("/signup")
            short = {"email": new_email(), "password": "short"}
            assert browser.submit("/signup", short).status_code == 422
        assert browser.signup(new_email()).status_code == 303


def test_free_credits_follow_the_setting(live_app: LiveApp) -> None:
    settings = live_app.app.state.runtime.settings
    saved = settings.signup_credits
    settings.signup_credits = 0
    try:
        with Browserish(live_app) as browser:
            browser.http.headers["X-Forwarded-For"] = an_address()
            assert browser.signup(new_email()).status_code == 303
            assert browser.api("GET", "/api/v1/me").json()["credits"] == 0
    finally:
        settings.signup_credits = saved
