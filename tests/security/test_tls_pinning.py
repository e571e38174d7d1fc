"""https fetches connect to the address that was checked, while TLS (SNI and certificate
verification) and the Host header use the host name.

The internet is out of reach, so the fake network answers `tempfile.aiquickdraw.com` with a
public address (8.8.8.8) and routes a dial to 8.8.8.8:443 to a local TLS server whose
certificate comes from a throwaway CA trusted only by the policy's SSL context.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from image2ad.net.addresses import IPAddress
from image2ad.net.errors import AddressRefused, FetchFailed, RedirectRefused
from image2ad.net.safe_fetch import FetchPolicy, stream_to
from image2ad.net.urls import Allowlist
from tests.security.servers import Canary, FakeNetwork, HTTPServer, LocalCA, redirect, respond

ALLOWED = "tempfile.aiquickdraw.com"
PUBLIC = "8.8.8.8"
BODY = b"\x89PNG pinned"


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    canary = Canary()
    yield canary
    hits = canary.close()
    print(f"\ncanary hits (test_tls_pinning) = {hits}")
    assert hits == 0


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return LocalCA.create(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def network(canary: Canary) -> FakeNetwork:
    return FakeNetwork(canary.port, names={ALLOWED: [ip_address(PUBLIC)]})


async def fetch(url: str, policy: FetchPolicy) -> bytes:
    async def collect(chunks: AsyncIterator[bytes]) -> bytes:
        return b"".join([chunk async for chunk in chunks])

    return await stream_to(url, policy, collect)


def make_policy(network: FakeNetwork, ca: LocalCA, origins: tuple[str, ...] = ()) -> FetchPolicy:
    return FetchPolicy(
        Allowlist.build([ALLOWED], origins),
        max_bytes=1 << 20,
        timeout_s=5.0,
        ssl_context=ca.client_context(),
        network=network,
    )


async def test_https_is_pinned_to_the_checked_address_with_sni_and_host(
    ca: LocalCA, network: FakeNetwork, tmp_path: Path
) -> None:
    async with HTTPServer(ca.server_context(ALLOWED)) as tls:
        tls.routes["/p/a.png"] = respond(BODY)
        network.route(PUBLIC, 443, tls)
        assert await fetch(f"https://{ALLOWED}/p/a.png", make_policy(network, ca)) == BODY
    assert network.resolved == [ALLOWED]
    assert network.dialed == [(PUBLIC, 443)]
    assert tls.sni == [ALLOWED]
    assert tls.requests[0].headers["host"] == ALLOWED


async def test_a_second_dns_answer_cannot_redirect_the_connection(
    ca: LocalCA, network: FakeNetwork
) -> None:
    """DNS rebinding: the first answer is public, later ones point inside. The connection uses
    the first (checked) answer; the next connection resolves again and is refused."""
    answers: list[list[IPAddress]] = [[ip_address(PUBLIC)]]

    def rebinding(host: str) -> list[IPAddress]:
        return answers.pop() if answers else [ip_address("127.0.0.1")]

    network.answers = rebinding
    async with HTTPServer(ca.server_context(ALLOWED)) as tls:
        tls.routes["/p/a.png"] = respond(BODY)
        network.route(PUBLIC, 443, tls)
        policy = make_policy(network, ca)
        assert await fetch(f"https://{ALLOWED}/p/a.png", policy) == BODY
        with pytest.raises(AddressRefused):
            await fetch(f"https://{ALLOWED}/p/a.png", policy)
    assert network.resolved == [ALLOWED, ALLOWED]
    assert network.dialed == [(PUBLIC, 443)]


async def test_certificate_for_another_name_fails(ca: LocalCA, network: FakeNetwork) -> None:
    async with HTTPServer(ca.server_context("evil.example")) as tls:
        tls.routes["/p/a.png"] = respond(BODY)
        network.route(PUBLIC, 443, tls)
        with pytest.raises(FetchFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await fetch(f"https://{ALLOWED}/p/a.png", make_policy(network, ca))
    assert tls.requests == []


async def test_untrusted_certificate_fails_with_the_default_trust_store(
    ca: LocalCA, network: FakeNetwork
) -> None:
    async with HTTPServer(ca.server_context(ALLOWED)) as tls:
        tls.routes["/p/a.png"] = respond(BODY)
        network.route(PUBLIC, 443, tls)
        policy = FetchPolicy(
            Allowlist.build([ALLOWED]), max_bytes=1 << 20, timeout_s=5.0, network=network
        )
        with pytest.raises(FetchFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await fetch(f"https://{ALLOWED}/p/a.png", policy)
    assert tls.requests == []


async def test_https_to_http_redirect_is_refused(ca: LocalCA, network: FakeNetwork) -> None:
    async with HTTPServer() as plain, HTTPServer(ca.server_context(ALLOWED)) as tls:
        plain.routes["/ok"] = respond(BODY)
        network.route("127.0.0.1", plain.port, plain)
        network.route(PUBLIC, 443, tls)
        tls.routes["/p/a.png"] = redirect(plain.url("/ok"))
        policy = make_policy(network, ca, origins=(plain.origin,))
        with pytest.raises(RedirectRefused, match="https to http"):
            await fetch(f"https://{ALLOWED}/p/a.png", policy)
    assert plain.requests == []
