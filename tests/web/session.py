"""Drive the web pages over HTTP like a browser would: cookies, CSRF tokens, form posts."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page

from tests.fixtures.factories import TestUser
from tests.fixtures.live_app import LiveApp

PASSWORD = "correct horse"  # what tests.fixtures.factories.create_user sets
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_FORM_TOKEN = re.compile(r'data-form-token="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def form_token_of(html: str) -> str:
    match = _FORM_TOKEN.search(html)
    assert match, "page has no form token"
    return match.group(1)


class Browserish:
    """An httpx client holding the session cookie and the last CSRF token it was shown."""

    def __init__(self, live_app: LiveApp) -> None:
        self.base_url = live_app.base_url
        self.http = httpx.Client(base_url=live_app.base_url, timeout=30)
        self.csrf = ""

    def __enter__(self) -> Browserish:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def page(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        if 'name="csrf-token"' in response.text:
            self.csrf = csrf_of(response.text)
        return response

    def submit(
        self, path: str, data: dict[str, str], *, token: str | None = None
    ) -> httpx.Response:
        """POST a form the way the page does, with the page's CSRF token unless told otherwise."""
        fields = {"csrf_token": self.csrf if token is None else token, **data}
        if token == "":
            fields.pop("csrf_token")
        response = self.http.post(path, data=fields, headers={"Origin": self.base_url})
        if 'name="csrf-token"' in response.text:
            self.csrf = csrf_of(response.text)
        return response

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A JSON API call as the page's JavaScript makes it: cookie + CSRF header + Origin."""
        headers = {"X-CSRF-Token": self.csrf, "Origin": self.base_url, **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def signup(self, email: str, password: str = PASSWORD) -> httpx.Response:
        self.page("/signup")
        return self.submit("/signup", {"email": email, "password": password})

    def login(self, email: str, password: str = PASSWORD, next: str = "") -> httpx.Response:
        self.page("/login")
        response = self.submit("/login", {"email": email, "password": password, "next": next})
        if response.status_code == 303:
            self.page(response.headers["location"])
        return response


def signed_in(live_app: LiveApp, user: TestUser) -> Browserish:
    client = Browserish(live_app)
    response = client.login(user.email)
    assert response.status_code == 303, response.text
    return client


def log_in(page: Page, live_app: LiveApp, user: TestUser) -> None:
    """Sign in through the login form of a real browser page."""
    page.goto(f"{live_app.base_url}/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_app.base_url}/generate/text-to-image")
