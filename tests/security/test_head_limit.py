"""The request-head bound of `serve` (net/http_protocol.py) on its own: ordinary traffic passes
(keep-alive, big cookies, big bodies), a head over the limit gets 431 however it arrives."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from image2ad.net.http_protocol import MAX_HEAD_BYTES, BoundedHeadProtocol
from tests.fixtures.emulator import wait_until


async def echo_size(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    app = Starlette(routes=[Route("/", echo_size, methods=["GET", "POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, http=BoundedHeadProtocol, log_config=None, access_log=False, loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10)
    yield int(sock.getsockname()[1])
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def raw_status(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_ordinary_traffic_passes(port: int) -> None:
    cookie = "c" * (MAX_HEAD_BYTES // 2)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        # One connection, many requests: the count starts again with each one.
        statuses = {client.get("/", headers={"Cookie": cookie}).status_code for _ in range(20)}
        body = client.post("/", content=b"b" * (5 * 1024 * 1024))
    assert statuses == {200}
    assert (body.status_code, body.text) == (200, str(5 * 1024 * 1024))


def test_a_large_head_in_one_read_gets_431(port: int) -> None:
    filler = b"a" * (MAX_HEAD_BYTES + 1024)
    assert (
        raw_status(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Filler: " + filler + b"\r\n\r\n") == 431
    )


def test_many_small_headers_over_the_limit_get_431(port: int) -> None:
    lines = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(MAX_HEAD_BYTES // 100))
    assert raw_status(port, b"GET / HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n") == 431


def test_a_long_request_line_gets_431(port: int) -> None:
    path = b"/?" + b"q" * (MAX_HEAD_BYTES + 1024)
    assert raw_status(port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n") == 431
