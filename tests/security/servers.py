"""Loopback servers for fetch tests: a connection-counting canary and scripted HTTP(S) servers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpcore
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from image2ad.net.addresses import IPAddress
from image2ad.net.network import SystemNetwork


class Canary:
    """A loopback listener that counts every TCP connection it accepts, in its own thread."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.02)
        self.port: int = self._sock.getsockname()[1]
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.hits += 1
            conn.close()

    def close(self) -> int:
        """Stop after draining pending connections; returns the final hit count."""
        self._sock.settimeout(0.2)
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(TimeoutError, BlockingIOError):
            while True:
                conn, _ = self._sock.accept()
                self.hits += 1
                conn.close()
        self._sock.close()
        return self.hits


@dataclass
class FakeNetwork:
    """Resolves `names` as told (else via real DNS) and sends every dial not in `routes` to
    the canary, so any connection that escapes the checks is counted."""

    canary_port: int
    names: dict[str, list[IPAddress]] = field(default_factory=dict)
    routes: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)
    dialed: list[tuple[str, int]] = field(default_factory=list)
    answers: Callable[[str], list[IPAddress] | None] | None = None

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.resolved.append(host)
        answer = self.answers(host) if self.answers else None
        if answer is not None:
            return answer
        if host in self.names:
            return list(self.names[host])
        return await SystemNetwork().resolve(host, port)

    async def connect(self, ip: IPAddress, port: int) -> httpcore.AsyncNetworkStream:
        self.dialed.append((str(ip), port))
        host, real_port = self.routes.get((str(ip), port), ("127.0.0.1", self.canary_port))
        return await httpcore.AnyIOBackend().connect_tcp(host, real_port)

    def route(self, ip: str, port: int, server: HTTPServer) -> None:
        self.routes[(ip, port)] = ("127.0.0.1", server.port)


Handler = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]


class HTTPServer:
    """A tiny HTTP/1.1 server on loopback whose paths are scripted handlers (one request per
    connection). With `ssl_context` it speaks TLS and records the SNI names it was offered."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[SeenRequest] = []
        self.sni: list[str | None] = []
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        if ssl_context is not None:
            ssl_context.sni_callback = self._record_sni

    def _record_sni(self, _sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.sni.append(name)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    async def __aenter__(self) -> HTTPServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            path = request_line.split(" ")[1]
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)
            }
            self.requests.append(SeenRequest(path, headers))
            await self.routes.get(path, respond(b"not found", status=404))(writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            # Ends normally: asyncio 3.11 logs an error for a cancelled connection handler.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [
        f"HTTP/1.1 {status} X",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(body: bytes, *, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(status, {"Content-Length": str(len(body)), **(headers or {})}) + body)
        await writer.drain()

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    return respond(b"", status=status, headers={"Location": location})


def stream(
    chunk: bytes,
    *,
    count: int | None = None,
    interval: float = 0.0,
    headers: dict[str, str] | None = None,
    then_reset: bool = False,
) -> Handler:
    """Send `headers`, then `chunk` `count` times (forever if None) every `interval` seconds;
    then close cleanly, or with a TCP reset."""

    async def handler(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, headers or {}))
        sent = 0
        while count is None or sent < count:
            writer.write(chunk)
            await writer.drain()
            sent += 1
            if interval:
                await asyncio.sleep(interval)
        if then_reset:
            await asyncio.sleep(0.05)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

    return handler


def chunked_forever(piece: bytes) -> Handler:
    """A chunked body that never ends: no Content-Length to check up front."""

    async def handler(writer: asyncio.StreamWriter) -> None:
        writer.write(_head(200, {"Transfer-Encoding": "chunked"}))
        frame = b"%x\r\n%b\r\n" % (len(piece), piece)
        while True:
            writer.write(frame)
            await writer.drain()

    return handler


@dataclass(frozen=True)
class LocalCA:
    """A throwaway CA; `server_context(name)` serves a certificate for `name` signed by it."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    directory: Path

    @classmethod
    def create(cls, directory: Path) -> LocalCA:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "image2ad test CA")])
        cert = (
            _builder(name, name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key, directory)

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(
            cadata=self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        )

    def server_context(self, dns_name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)])
        cert = (
            _builder(subject, self.cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_path = self.directory / f"{dns_name}.pem"
        key_path = self.directory / f"{dns_name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
        return context


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
