"""X-Request-ID: a safe id from the client is echoed, anything else is replaced by a new one."""

from __future__ import annotations

import re

import httpx

from tests.fixtures.live_app import LiveApp

GENERATED = re.compile(r"[0-9a-f]{32}")


def request_id(base_url: str, path: str, sent: str | None = None) -> str:
    headers = {"X-Request-ID": sent} if sent is not None else {}
    reply = httpx.get(f"{base_url}{path}", headers=headers)
    return reply.headers["x-request-id"]


def test_a_safe_id_is_echoed(live_app: LiveApp) -> None:
    assert request_id(live_app.base_url, "/healthz", "req-42.a:b/c@d") == "req-42.a:b/c@d"
    assert request_id(live_app.base_url, "/api/v1/jobs/nothing", "x" * 128) == "x" * 128


def test_an_id_is_made_when_none_or_an_unsafe_one_is_sent(live_app: LiveApp) -> None:
    made = {request_id(live_app.base_url, "/healthz") for _ in range(2)}
    assert len(made) == 2
    assert all(GENERATED.fullmatch(rid) for rid in made)
    for unsafe in ("x" * 129, "has space", 'quote"d', ""):
        rid = request_id(live_app.base_url, "/healthz", unsafe)
        assert GENERATED.fullmatch(rid), unsafe
