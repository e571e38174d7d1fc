"""GET a URL we were handed (a provider's result link) without letting it reach inside.

Every URL, including each redirect hop, passes `Allowlist.check`; every connection goes
through `PinnedBackend`. Redirects: at most `max_redirects` hops, each re-checked, never from
https to http. The body is streamed to the caller with a size cap, a minimum rate and a total
deadline; a short body raises `Truncated`.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin

import anyio
import httpcore
import httpx

from image2ad.net.errors import (
    FetchFailed,
    RedirectRefused,
    ResponseRefused,
    TooLarge,
    TooSlow,
    Truncated,
    URLRefused,
)
from image2ad.net.network import Network, PinnedBackend, SystemNetwork
from image2ad.net.urls import Allowlist, Target

T = TypeVar("T")
Consume = Callable[[AsyncIterator[bytes]], Awaitable[T]]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "image2ad-fetch"


@dataclass(frozen=True)
class FetchPolicy:
    """Where a fetch may go and how much time and data it may take."""

    allowlist: Allowlist
    max_bytes: int
    timeout_s: float = 300.0
    connect_timeout_s: float = 10.0
    min_rate: float = 16 * 1024
    rate_window_s: float = 10.0
    max_redirects: int = 3
    ssl_context: ssl.SSLContext | None = None
    network: Network = field(default_factory=SystemNetwork)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


async def stream_to(url: str, policy: FetchPolicy, consume: Consume[T]) -> T:
    """GET `url` under `policy` and pass the body's chunks to `consume`; returns its result.

    Raises FetchRefused (permanent) or FetchFailed (transient); errors from `consume` pass through.
    """
    target = policy.allowlist.check(url)
    pool = httpcore.AsyncConnectionPool(
        ssl_context=policy.ssl_context or _default_ssl_context(),
        network_backend=PinnedBackend(policy.network, policy.allowlist.http_origins),
        retries=0,
    )
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + policy.timeout_s):
            async with pool:
                return await _fetch(pool, target, policy, consume)
        # Only a cancelled scope (the total deadline) gets here.
        raise TooSlow(f"download took longer than {policy.timeout_s:g} s")
    except httpcore.TimeoutException as exc:
        raise TooSlow(f"{target.origin} did not answer in time ({type(exc).__name__})") from exc
    except httpcore.ConnectError as exc:
        raise FetchFailed(f"could not connect to {target.origin}: {_why(exc)}") from exc
    except httpcore.NetworkError as exc:
        raise FetchFailed(f"network error talking to {target.origin}: {_why(exc)}") from exc
    except httpcore.ProtocolError as exc:
        raise FetchFailed(f"{target.origin} broke the HTTP protocol: {_why(exc)}") from exc


async def _fetch(
    pool: httpcore.AsyncConnectionPool, target: Target, policy: FetchPolicy, consume: Consume[T]
) -> T:
    timeouts = {
        "connect": policy.connect_timeout_s,
        "pool": policy.connect_timeout_s,
        "read": policy.rate_window_s,
        "write": policy.rate_window_s,
    }
    for hop in range(policy.max_redirects + 1):
        # Built from the checked parts so httpcore never re-parses a URL string.
        url = httpcore.URL(
            scheme=target.scheme, host=target.host, port=target.port, target=target.path
        )
        async with pool.stream(
            "GET", url, headers=_headers(target), extensions={"timeout": timeouts}
        ) as response:
            if response.status in REDIRECT_STATUSES:
                if hop == policy.max_redirects:
                    raise RedirectRefused(f"more than {policy.max_redirects} redirects")
                target = _next_hop(target, _header(response, b"location"), policy.allowlist)
                continue
            declared = _check_response(response, target, policy.max_bytes)
            async with aclosing(_body(response, declared, policy)) as chunks:
                return await consume(chunks)
    raise AssertionError("unreachable: the last hop either returns or raises")


def _headers(target: Target) -> list[tuple[bytes, bytes]]:
    return [
        (b"Host", target.authority.encode("ascii")),
        (b"User-Agent", USER_AGENT.encode("ascii")),
        (b"Accept", b"*/*"),
        # A compressed body would make the size cap count compressed bytes.
        (b"Accept-Encoding", b"identity"),
    ]


def _header(response: httpcore.Response, name: bytes) -> str | None:
    values = [v for k, v in response.headers if k.lower() == name]
    if len(values) > 1:
        raise ResponseRefused(f"response repeats the {name.decode()} header")
    return values[0].decode("latin-1") if values else None


def _next_hop(current: Target, location: str | None, allowlist: Allowlist) -> Target:
    if location is None:
        raise RedirectRefused(f"{current.origin} redirected without a Location")
    try:
        target = allowlist.check(urljoin(current.url, location))
    except URLRefused as exc:
        raise RedirectRefused(f"{current.origin} redirected to a refused URL: {exc}") from exc
    if current.scheme == "https" and target.scheme != "https":
        raise RedirectRefused(f"{current.origin} redirected from https to http")
    return target


def _check_response(response: httpcore.Response, target: Target, max_bytes: int) -> int | None:
    """Status, encoding and declared length; returns the declared length if there is one."""
    status = response.status
    if status in RETRY_STATUSES or status >= 500:
        raise FetchFailed(f"{target.origin} answered HTTP {status}")
    if status != 200:
        raise ResponseRefused(f"{target.origin} answered HTTP {status}")
    encoding = (_header(response, b"content-encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise ResponseRefused(f"{target.origin} sent a {encoding[:32]!r}-encoded body")
    length = _header(response, b"content-length")
    if length is None:
        return None
    if not length.isascii() or not length.isdigit():
        raise ResponseRefused(f"{target.origin} sent an invalid Content-Length")
    if int(length) > max_bytes:
        raise TooLarge(f"the body is {int(length)} bytes; the limit is {max_bytes}")
    return int(length)


async def _body(
    response: httpcore.Response, declared: int | None, policy: FetchPolicy
) -> AsyncGenerator[bytes, None]:
    total = 0
    floor = _RateFloor(policy.min_rate, policy.rate_window_s)
    try:
        async for chunk in response.aiter_stream():
            total += len(chunk)
            if total > policy.max_bytes:
                raise TooLarge(f"the body is larger than the limit of {policy.max_bytes} bytes")
            floor.add(len(chunk))
            yield chunk
    except httpcore.TimeoutException as exc:
        raise TooSlow(f"the body stalled for {policy.rate_window_s:g} s") from exc
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise Truncated(f"the connection broke after {total} bytes: {_why(exc)}") from exc
    if declared is not None and total != declared:
        raise Truncated(f"the body ended after {total} of {declared} bytes")


class _RateFloor:
    """Aborts a transfer whose average rate over any window falls below `min_rate`."""

    def __init__(self, min_rate: float, window_s: float) -> None:
        self.min_rate = min_rate
        self.window_s = window_s
        self.started = time.monotonic()
        self.received = 0

    def add(self, size: int) -> None:
        self.received += size
        elapsed = time.monotonic() - self.started
        if elapsed < self.window_s:
            return
        rate = self.received / elapsed
        if rate < self.min_rate:
            raise TooSlow(f"the body arrived at {rate:.0f} B/s; the floor is {self.min_rate:g} B/s")
        self.started += elapsed
        self.received = 0


def _why(exc: Exception) -> str:
    """An exception's type and first message line, clipped (no URLs reach these messages)."""
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
