"""S1/S3: hostile result URLs and redirects are refused before any connection is made.

A canary listener counts every TCP connection it receives. The fake network sends every dial
that is not explicitly routed to a test server to the canary, so a URL that slipped past the
checks would show up as a hit. The module ends by asserting the canary saw nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from ipaddress import ip_address

import pytest

from image2ad.net.errors import AddressRefused, FetchRefused, RedirectRefused, URLRefused
from image2ad.net.safe_fetch import FetchPolicy, stream_to
from image2ad.net.urls import Allowlist
from tests.security.servers import Canary, FakeNetwork, HTTPServer, redirect, respond

ALLOWED = "tempfile.aiquickdraw.com"
BODY = b"result-bytes"


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    canary = Canary()
    yield canary
    hits = canary.close()
    print(f"\ncanary hits (test_ssrf) = {hits}")
    assert hits == 0, f"the canary received {hits} connection(s)"


@pytest.fixture
def network(canary: Canary) -> Iterator[FakeNetwork]:
    network = FakeNetwork(canary.port)
    yield network
    assert canary.hits == 0


@pytest.fixture
async def server(network: FakeNetwork) -> AsyncIterator[HTTPServer]:
    async with HTTPServer() as server:
        network.route("127.0.0.1", server.port, server)
        server.routes["/ok"] = respond(BODY)
        yield server


def make_policy(
    network: FakeNetwork, *, hosts: tuple[str, ...] = (ALLOWED,), origins: tuple[str, ...] = ()
) -> FetchPolicy:
    return FetchPolicy(
        Allowlist.build(hosts, origins), max_bytes=1 << 20, timeout_s=5.0, network=network
    )


async def fetch(url: str, policy: FetchPolicy) -> bytes:
    async def collect(chunks: AsyncIterator[bytes]) -> bytes:
        return b"".join([chunk async for chunk in chunks])

    return await stream_to(url, policy, collect)


HOSTILE = [
    "http://127.0.0.1:{canary}/",
    "http://localhost:{canary}/",
    "https://localhost/",
    "https://127.0.0.1/",
    "http://10.0.0.1/",
    "https://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0:{canary}/",
    "http://[::1]:{canary}/",
    "http://[::ffff:127.0.0.1]:{canary}/",
    "http://[::ffff:7f00:1]:{canary}/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://2130706433:{canary}/",
    "http://0x7f000001:{canary}/",
    "http://0x7f.1:{canary}/",
    "http://0177.0.0.1:{canary}/",
    "http://127.1:{canary}/",
    "http://tempfile.aiquickdraw.com/p/a.png",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{canary}/_GET",
    "dict://127.0.0.1:{canary}/",
    "ftp://tempfile.aiquickdraw.com/a.png",
    "https://tempfile.aiquickdraw.com@127.0.0.1:{canary}/",
    "https://user:pass@tempfile.aiquickdraw.com/a.png",
    "https://tempfile.aiquickdraw.com.127.0.0.1.nip.io/",
    "https://tempfile.aiquickdraw.com.evil.com/",
    "https://evil.com\\@tempfile.aiquickdraw.com/",
    "https://tempfile.aiquickdraw.com:{canary}/",
    "https://tempfile%2eaiquickdraw.com/",
]


@pytest.mark.parametrize("template", HOSTILE)
async def test_hostile_url_is_refused_before_connecting(
    template: str, network: FakeNetwork, canary: Canary
) -> None:
    with pytest.raises(URLRefused):
        await fetch(template.format(canary=canary.port), make_policy(network))
    assert network.resolved == [] and network.dialed == []


REBOUND = [
    ["127.0.0.1"],
    ["10.0.0.5"],
    ["172.20.0.1"],
    ["192.168.0.10"],
    ["169.254.169.254"],
    ["100.64.0.1"],
    ["0.0.0.0"],
    ["198.18.0.1"],
    ["224.0.0.1"],
    ["::1"],
    ["::ffff:127.0.0.1"],
    ["::ffff:169.254.169.254"],
    ["fe80::1"],
    ["fd00::1"],
    ["64:ff9b::a9fe:a9fe"],
    ["2002:7f00:1::1"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    ["8.8.8.8", "127.0.0.1"],
    ["2606:4700::1", "::1"],
]


@pytest.mark.parametrize("answers", REBOUND, ids=lambda a: "+".join(a))
async def test_allowlisted_name_resolving_inside_is_refused(
    answers: list[str], network: FakeNetwork
) -> None:
    network.names[ALLOWED] = [ip_address(a) for a in answers]
    with pytest.raises(AddressRefused):
        await fetch(f"https://{ALLOWED}/p/a.png", make_policy(network))
    assert network.resolved == [ALLOWED] and network.dialed == []


async def test_real_dns_for_localhost_is_refused(network: FakeNetwork) -> None:
    with pytest.raises(AddressRefused, match="loopback"):
        await fetch("https://localhost/x", make_policy(network, hosts=("localhost",)))
    assert network.resolved == ["localhost"] and network.dialed == []


async def test_allowlisted_origin_is_fetched_and_only_that_origin(
    server: HTTPServer, network: FakeNetwork, canary: Canary
) -> None:
    policy = make_policy(network, origins=(server.origin,))
    assert await fetch(server.url("/ok"), policy) == BODY
    assert network.dialed == [("127.0.0.1", server.port)]
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"
    for sibling in (
        f"http://127.0.0.1:{canary.port}/ok",
        f"http://localhost:{server.port}/ok",
        f"http://[::1]:{server.port}/ok",
        f"https://127.0.0.1:{server.port}/ok",
        f"http://127.0.0.2:{server.port}/ok",
    ):
        with pytest.raises(URLRefused):
            await fetch(sibling, policy)
    assert len(network.dialed) == 1


REDIRECTS: list[tuple[str, str, type[Exception]]] = [
    ("to-canary", "http://127.0.0.1:{canary}/", RedirectRefused),
    ("to-canary-by-name", "http://localhost:{canary}/", RedirectRefused),
    ("to-private", "http://10.0.0.1/", RedirectRefused),
    ("to-metadata", "http://169.254.169.254/latest/meta-data/", RedirectRefused),
    ("to-mapped", "http://[::ffff:127.0.0.1]:{canary}/", RedirectRefused),
    ("to-decimal", "http://2130706433:{canary}/", RedirectRefused),
    ("to-file", "file:///etc/passwd", RedirectRefused),
    ("to-userinfo", "http://127.0.0.1:{port}@127.0.0.1:{canary}/", RedirectRefused),
    ("to-rebound-name", "https://tempfile.aiquickdraw.com/p/a.png", AddressRefused),
]


@pytest.mark.parametrize(("name", "location", "error"), REDIRECTS, ids=[r[0] for r in REDIRECTS])
async def test_redirect_out_of_bounds_is_refused(
    name: str,
    location: str,
    error: type[Exception],
    server: HTTPServer,
    network: FakeNetwork,
    canary: Canary,
) -> None:
    network.names[ALLOWED] = [ip_address("127.0.0.1")]
    server.routes["/go"] = redirect(location.format(canary=canary.port, port=server.port))
    with pytest.raises(error):
        await fetch(server.url("/go"), make_policy(network, origins=(server.origin,)))
    assert network.dialed == [("127.0.0.1", server.port)]


async def test_redirects_are_followed_up_to_three_hops(
    server: HTTPServer, network: FakeNetwork
) -> None:
    for hop in range(4):
        server.routes[f"/r{hop}"] = redirect(f"/r{hop + 1}" if hop < 3 else "/ok", 307)
    policy = make_policy(network, origins=(server.origin,))
    assert await fetch(server.url("/r1"), policy) == BODY
    assert [r.path for r in server.requests] == ["/r1", "/r2", "/r3", "/ok"]
    with pytest.raises(RedirectRefused, match="more than 3 redirects"):
        await fetch(server.url("/r0"), policy)


async def test_redirect_loop_is_cut(server: HTTPServer, network: FakeNetwork) -> None:
    server.routes["/loop"] = redirect("/loop", 301)
    with pytest.raises(RedirectRefused):
        await fetch(server.url("/loop"), make_policy(network, origins=(server.origin,)))
    assert len(server.requests) == 4


async def test_redirect_without_location_is_refused(
    server: HTTPServer, network: FakeNetwork
) -> None:
    server.routes["/nowhere"] = respond(b"", status=302)
    with pytest.raises(FetchRefused):
        await fetch(server.url("/nowhere"), make_policy(network, origins=(server.origin,)))


def test_canary_counts_connections() -> None:
    """The harness itself: a direct connection to a canary is counted."""
    import socket

    other = Canary()
    try:
        with socket.create_connection(("127.0.0.1", other.port)):
            pass
    finally:
        assert other.close() == 1
