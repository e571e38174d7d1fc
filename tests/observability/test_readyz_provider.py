"""/readyz reports the provider (key accepted, balance) from a cached credit call; a Kie outage
is reported without failing readiness."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from image2ad.observability.provider import ProviderCheck
from tests.fixtures.live_app import LiveApp
from tests.fixtures.processes import free_port


def credit_calls(live_app: LiveApp) -> float:
    text = httpx.get(f"{live_app.base_url}/metrics").text
    for line in text.splitlines():
        if line.startswith('image2ad_provider_requests_total{operation="credit",outcome="ok"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def use_check(live_app: LiveApp) -> Iterator[Any]:
    """Puts a provider check of the test's choosing (a fresh one: no cached probe) in the app."""
    state = live_app.app.state
    saved = state.provider_check

    def use(check: ProviderCheck) -> None:
        state.provider_check = check

    use(ProviderCheck())
    try:
        yield use
    finally:
        state.provider_check = saved


def test_readyz_reports_the_key_and_the_balance_cached(live_app: LiveApp, use_check: Any) -> None:
    calls = credit_calls(live_app)
    first = httpx.get(f"{live_app.base_url}/readyz", timeout=30)
    second = httpx.get(f"{live_app.base_url}/readyz", timeout=30)
    assert first.status_code == second.status_code == 200
    body = first.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "storage"}
    provider = body["provider"]
    assert provider["status"] == "ok"
    assert provider["key_valid"] is True
    assert provider["credits"] == live_app.emulator.balance
    assert provider["name"] == "emulator"
    # The second probe is answered from the cache: one credit call for both.
    assert second.json()["provider"]["checked_at"] == provider["checked_at"]
    assert credit_calls(live_app) == calls + 1


def runtime_at(base_url: str, api_key: str) -> Any:
    return SimpleNamespace(
        settings=SimpleNamespace(uses_emulator=False),
        kie_api_key=api_key,
        kie_base_url=base_url,
        kie_upload_base_url=base_url,
    )


async def test_an_unreachable_provider_is_reported_and_cached() -> None:
    now = [1000.0]
    check = ProviderCheck(cache_s=60, clock=lambda: now[0])
    rt = runtime_at(f"http://127.0.0.1:{free_port()}", "some-key")
    down = await check.status(rt)
    assert down["status"] == "unavailable"
    assert down["key_valid"] is None and down["credits"] is None
    assert down["name"] == "kie"
    now[0] += 30
    assert (await check.status(rt))["checked_at"] == down["checked_at"]
    assert (await check.status(rt))["age_s"] == 30


async def test_a_refused_key_is_reported(live_app: LiveApp) -> None:
    rt = runtime_at(f"{live_app.base_url}/_emulator", "not-the-emulator-key")
    refused = await ProviderCheck().status(rt)
    assert refused["status"] == "error"
    assert refused["key_valid"] is False


class Outage(ProviderCheck):
    """Probes a Kie that does not answer."""

    async def status(self, rt: Any) -> dict[str, Any]:
        return await super().status(runtime_at(f"http://127.0.0.1:{free_port()}", rt.kie_api_key))


def test_a_provider_outage_leaves_the_api_ready(live_app: LiveApp, use_check: Any) -> None:
    use_check(Outage())
    reply = httpx.get(f"{live_app.base_url}/readyz", timeout=30)
    assert reply.status_code == 200
    assert reply.json()["status"] == "ok"
    assert reply.json()["provider"]["status"] == "unavailable"
