"""Finding 4 of issue 11: failed logins slow the guesser down, never lock the owner out.

Failures count per (account, client address) and per address, with a doubling, capped wait.
The client address comes from X-Forwarded-For only when the peer is a trusted proxy.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from image2ad.auth.login_throttle import LoginThrottle, Rule
from image2ad.auth.web import client_address
from image2ad.config import Settings
from image2ad.net.proxies import uvicorn_proxy_options
from tests.fixtures.emulator import wait_until
from tests.fixtures.hostile import report
from tests.fixtures.live_app import LiveApp
from tests.web.session import PASSWORD, Browserish


def an_address() -> str:
    return f"203.0.113.{random.randint(1, 254)}"


class From(Browserish):
    """A browser behind the test server's trusted loopback proxy, at `address`."""

    def __init__(self, live_app: LiveApp, address: str) -> None:
        super().__init__(live_app)
        self.http.headers["X-Forwarded-For"] = address


def test_a_stranger_cannot_lock_the_owner_out(live_app: LiveApp) -> None:
    owner = live_app.user()
    stranger_address, owner_address = an_address(), f"198.51.100.{random.randint(1, 254)}"
    with From(live_app, stranger_address) as stranger:
        statuses = [stranger.login(owner.email, f"guess {i}").status_code for i in range(20)]
    assert statuses[:4] == [401] * 4 and 429 in statuses
    with From(live_app, owner_address) as browser:
        response = browser.login(owner.email, PASSWORD)
        me = browser.api("GET", "/api/v1/me")
    assert report(
        "4. a stranger locks the owner out",
        f"tests/web/test_login_throttle.py::test_a_stranger_cannot_lock_the_owner_out"
        f"[{live_app.backend}]",
        expected="20 wrong passwords from one address; the owner from another address: 303",
        observed=f"stranger {sorted(set(statuses))}; owner POST /login -> {response.status_code}",
        passed=response.status_code == 303 and me.status_code == 200,
    )


def test_the_guesser_waits_and_is_told_how_long(live_app: LiveApp) -> None:
    owner = live_app.user()
    with From(live_app, an_address()) as stranger:
        for _ in range(5):
            assert stranger.login(owner.email, "wrong password").status_code == 401
        blocked = stranger.login(owner.email, PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert "Too many failed attempts" in blocked.text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_waits_double_up_to_a_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(
        per_account_address=Rule(free=3, base_s=1.0, cap_s=60.0),
        per_address=Rule(free=1000, base_s=1.0, cap_s=60.0),
        clock=clock,
    )
    waits = []
    for _ in range(12):
        throttle.failed("owner@example.com", "203.0.113.9")
        waits.append(throttle.retry_after("owner@example.com", "203.0.113.9"))
        clock.now += waits[-1] or 0  # the guesser waits exactly as told
    assert waits == [None, None, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    # Never a lock on the account: the owner's own address is free.
    assert throttle.retry_after("owner@example.com", "198.51.100.1") is None
    throttle.succeeded("owner@example.com", "203.0.113.9")
    assert throttle.retry_after("owner@example.com", "203.0.113.9") is None


def test_quiet_keys_start_over_and_the_address_limit_spans_accounts() -> None:
    clock = Clock()
    throttle = LoginThrottle(
        per_account_address=Rule(free=2, base_s=1.0, cap_s=10.0),
        per_address=Rule(free=5, base_s=1.0, cap_s=10.0),
        clock=clock,
    )
    for _ in range(3):
        throttle.failed("a@example.com", "203.0.113.1")
    clock.now += 11  # quiet for longer than the cap
    throttle.failed("a@example.com", "203.0.113.1")
    assert throttle.retry_after("a@example.com", "203.0.113.1") is None
    for n in range(5):
        throttle.failed(f"user{n}@example.com", "203.0.113.2")
    assert throttle.retry_after("anyone@example.com", "203.0.113.2") == 1
    assert throttle.retry_after("anyone@example.com", "203.0.113.3") is None


def test_uvicorns_own_variable_still_names_the_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.5")
    assert uvicorn_proxy_options(Settings()) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.5",
    }
    monkeypatch.setenv("IMAGE2AD_FORWARDED_ALLOW_IPS", "")
    assert uvicorn_proxy_options(Settings()) == {"proxy_headers": False}


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=100)
    for n in range(1000):
        throttle.failed(f"user{n}@example.com", f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._keys) <= 100


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """An app answering with the client address it sees, behind uvicorn configured as `serve`
    configures it; yields its base URL."""

    async def who(request: Request) -> Response:
        return PlainTextResponse(client_address(request))

    app = Starlette(routes=[Route("/", who)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    # The plain asyncio loop: uvloop warned of a transport still open when its loop closed at
    # the end of a test (what this test checks is the proxy options, not the loop).
    config = uvicorn.Config(
        app, log_config=None, access_log=False, loop="asyncio", **uvicorn_proxy_options(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.parametrize(
    ("trusted", "seen"),
    [
        (None, "203.0.113.50"),  # the default: loopback proxies only
        ("127.0.0.1", "203.0.113.50"),
        ("", "127.0.0.1"),
        ("10.0.0.0/8", "127.0.0.1"),
    ],
    ids=["default-loopback", "loopback", "none", "other-network"],
)
def test_the_forwarded_address_is_believed_only_from_trusted_proxies(
    trusted: str | None, seen: str
) -> None:
    settings = Settings() if trusted is None else Settings(forwarded_allow_ips=trusted)
    if trusted is None:
        assert settings.forwarded_allow_ips == "127.0.0.1,::1"
    with served(settings) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.get("/", headers={"X-Forwarded-For": "203.0.113.50"}).text == seen
        assert client.get("/").text == "127.0.0.1"
