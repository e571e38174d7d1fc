"""Resolve, check every address, then connect to one of exactly those addresses.

`PinnedBackend` is the httpcore network backend of every safe fetch. httpcore hands it the URL's
host name; it resolves the name once, refuses the connection if *any* address is not public, and
dials an address it checked — never the name — so a second DNS answer cannot slip in between
check and connect (DNS rebinding). TLS is then started by httpcore on that socket with the host
name as SNI and for certificate verification.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Protocol

import anyio
import httpcore

from image2ad.net.addresses import IPAddress, parse_ip, refusal
from image2ad.net.errors import AddressRefused, FetchFailed


class Network(Protocol):
    """The operating system's resolver and TCP connect (replaced in tests)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...

    async def connect(self, ip: IPAddress, port: int) -> httpcore.AsyncNetworkStream: ...


class SystemNetwork:
    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = await anyio.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(f"could not resolve {host}") from exc
        addresses: list[IPAddress] = []
        for *_, sockaddr in infos:
            ip = parse_ip(str(sockaddr[0]))
            if ip is None:
                raise AddressRefused(f"{host} resolved to something that is not an IP address")
            if ip not in addresses:
                addresses.append(ip)
        return addresses

    async def connect(self, ip: IPAddress, port: int) -> httpcore.AsyncNetworkStream:
        return await self._backend.connect_tcp(str(ip), port)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to checked public addresses; `exempt` (host, port) pairs skip the check."""

    def __init__(self, network: Network, exempt: frozenset[tuple[str, int]]) -> None:
        self._network = network
        self._exempt = exempt

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore backend signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self.vetted_addresses(host, port)
                return await self._connect_any(addresses, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host} timed out") from exc

    async def vetted_addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of `host`, all of them checked; AddressRefused if any is refused."""
        literal = parse_ip(host)
        addresses = [literal] if literal is not None else await self._network.resolve(host, port)
        if not addresses:
            raise FetchFailed(f"{host} has no addresses")
        if (host, port) in self._exempt:
            return addresses
        for ip in addresses:
            reason = refusal(ip)
            if reason is not None:
                raise AddressRefused(f"{host} resolves to a refused address: {reason}")
        return addresses

    async def _connect_any(
        self, addresses: list[IPAddress], port: int
    ) -> httpcore.AsyncNetworkStream:
        error: httpcore.ConnectError | None = None
        for ip in addresses:
            try:
                return await self._network.connect(ip, port)
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore backend signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are never used for fetches")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
