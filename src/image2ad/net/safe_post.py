"""POST to a URL a user gave us (a webhook endpoint) without letting it reach inside.

The same rules as a result download (docs/adr/0005): one strict parse, every address of the
host vetted and the connection pinned to a vetted one (no DNS rebinding), no environment proxy.
Redirects are never followed: a 3xx is just the answer. Only the first `keep_bytes` of the
response body are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import httpcore

from image2ad.net.errors import FetchFailed, TooSlow, URLRefused
from image2ad.net.network import Network, PinnedBackend, SystemNetwork
from image2ad.net.safe_fetch import _default_ssl_context, _why
from image2ad.net.urls import parse


@dataclass(frozen=True)
class PostPolicy:
    """`allow_private` admits plain http and loopback, private or link-local addresses."""

    timeout_s: float = 10.0
    allow_private: bool = False
    keep_bytes: int = 512
    network: Network = field(default_factory=SystemNetwork)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


async def post(url: str, body: bytes, headers: dict[str, str], policy: PostPolicy) -> Answer:
    """POST `body`; the status and the start of the answer. FetchRefused (the URL or address
    is refused) and FetchFailed (network trouble, timeout) are raised."""
    target = parse(url)
    if target.scheme != "https" and not policy.allow_private:
        raise URLRefused(f"plain http is not allowed for {target.origin}; use https")
    exempt = frozenset({(target.host, target.port)}) if policy.allow_private else frozenset()
    pool = httpcore.AsyncConnectionPool(
        ssl_context=_default_ssl_context(),
        network_backend=PinnedBackend(policy.network, exempt),
        retries=0,
    )
    wire = [
        (b"Host", target.authority.encode("ascii")),
        (b"User-Agent", b"image2ad-webhooks"),
        (b"Content-Length", str(len(body)).encode("ascii")),
        *((name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()),
    ]
    request_url = httpcore.URL(
        scheme=target.scheme, host=target.host, port=target.port, target=target.path
    )
    try:
        with anyio.fail_after(policy.timeout_s):
            async with (
                pool,
                pool.stream("POST", request_url, headers=wire, content=body) as response,
            ):
                kept = bytearray()
                async for chunk in response.aiter_stream():
                    kept += chunk
                    if len(kept) >= policy.keep_bytes:
                        break
                return Answer(response.status, bytes(kept[: policy.keep_bytes]))
    except TimeoutError as exc:
        raise TooSlow(f"{target.origin} did not answer within {policy.timeout_s:g} s") from exc
    except httpcore.ConnectError as exc:
        raise FetchFailed(f"could not connect to {target.origin}: {_why(exc)}") from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException) as exc:
        raise FetchFailed(f"network error talking to {target.origin}: {_why(exc)}") from exc
