"""A webhook receiver on loopback: records every POST and answers from a script of statuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)
    """Answers in order; the last one repeats (none: 200)."""
    requests: list[Received] = field(default_factory=list)

    def status_for(self, n: int) -> int:
        if not self.statuses:
            return 200
        return self.statuses[min(n, len(self.statuses) - 1)]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} of {count} deliveries arrived")
            time.sleep(0.02)
        return list(self.requests)


@contextmanager
def receiver(statuses: list[int] | None = None, path: str = "/hooks") -> Iterator[Receiver]:
    lock = threading.Lock()
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got = holder["r"]
            with lock:
                status = got.status_for(len(got.requests))
                got.requests.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body, time.time())
                )
            answer = f"answer {status}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(f"http://127.0.0.1:{server.server_port}{path}", list(statuses or []))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()
