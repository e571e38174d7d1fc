"""Peak RSS growth of a real `image2ad serve` (embedded shape: SQLite, built-in emulator) under
what a stranger can send: 8 parallel uploads of a ~5 KB PNG that decodes to 40 megapixels, and
4 parallel requests with a 64 MiB header (no login needed).

    .venv/bin/python -m bench.hostile_memory [--name hostile-memory]

Each case runs against a fresh server; its growth is the kernel's high-water mark of the server
process (reset before the case) minus its RSS before it. Writes bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

UPLOADS = 8
UPLOAD_SIDE = 6324  # 39.99 megapixels
HEADERS = 4
HEADER_BYTES = 64 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass
class Server:
    pid: int
    base_url: str
    api_key: str
    port: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) / 1024
    raise LookupError(field)


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "image2ad", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


@contextmanager
def serve(workdir: Path) -> Iterator[Server]:
    """A fresh embedded server with one user (and its API key) in `workdir`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE2AD_", "KIE_"))}
    env |= {
        "IMAGE2AD_DATA_DIR": str(workdir),
        "IMAGE2AD_PORT": str(port),
        "IMAGE2AD_LOG_LEVEL": "WARNING",
        "IMAGE2AD_API_RATE_LIMIT": "100000/minute",
        "KIE_API_KEY": "",
    }
    _cli(env, "db", "upgrade")
    _cli(env, "users", "create", "hostile@example.com", "--password", "correct horse battery")
    api_key = _cli(env, "api-keys", "create", "hostile@example.com").strip().splitlines()[-1]
    with (workdir / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "image2ad", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited {proc.returncode}; see {workdir}/server.log")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        yield Server(proc.pid, base_url, api_key, port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def peak_growth(pid: int, into: dict[str, Any]) -> Iterator[None]:
    """Fills `into` with the server's RSS before, its peak during the block, and the growth."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = _status(pid, "VmRSS")
    yield
    peak = max(_status(pid, "VmHWM"), _status(pid, "VmRSS"))
    into |= {
        "rss_before_mib": round(before, 1),
        "peak_rss_mib": round(peak, 1),
        "peak_rss_growth_mib": round(max(0.0, peak - before), 1),
    }


def sparse_png(side: int = UPLOAD_SIDE) -> bytes:
    """A PNG of a few KB whose pixels are side x side (one bit each, all zero)."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG", optimize=True)
    return out.getvalue()


def upload_case(server: Server) -> dict[str, Any]:
    data = sparse_png()
    headers = {"Authorization": f"Bearer {server.api_key}"}

    def upload(_: int) -> int:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=300) as client:
            files = {"file": ("big.png", data, "image/png")}
            return client.post("/api/v1/uploads", files=files).status_code

    result: dict[str, Any] = {
        "parallel": UPLOADS,
        "pixels": f"{UPLOAD_SIDE}x{UPLOAD_SIDE}",
        "file_bytes": len(data),
    }
    pool = concurrent.futures.ThreadPoolExecutor(UPLOADS)
    with peak_growth(server.pid, result), pool:
        result["statuses"] = sorted(pool.map(upload, range(UPLOADS)))
    return result


def big_header_request(port: int, size: int = HEADER_BYTES) -> int | str:
    """The status a `GET /healthz` with a `size`-byte header gets, or how the connection ended."""
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        stop = threading.Event()

        def send() -> None:
            left = size
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ")
                while left > 0 and not stop.is_set():
                    sock.sendall(b"a" * min(CHUNK, left))
                    left -= CHUNK
                sock.sendall(b"\r\n\r\n")
            except OSError:
                pass  # the server answered and closed: the reader has what it needs

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = b""
        try:
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError as exc:
            return type(exc).__name__
        finally:
            stop.set()
        sender.join(timeout=60)
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else "closed"


def header_case(server: Server) -> dict[str, Any]:
    result: dict[str, Any] = {"parallel": HEADERS, "header_bytes": HEADER_BYTES}
    pool = concurrent.futures.ThreadPoolExecutor(HEADERS)
    with peak_growth(server.pid, result), pool:
        outcomes = list(pool.map(lambda _: big_header_request(server.port), range(HEADERS)))
    result["statuses"] = sorted(outcomes, key=str)
    return result


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="image2ad-hostile-") as tmp:
        root = Path(tmp)
        (root / "uploads").mkdir()
        (root / "headers").mkdir()
        with serve(root / "uploads") as server:
            uploads = upload_case(server)
        with serve(root / "headers") as server:
            headers = header_case(server)
    return {"uploads": uploads, "headers": headers}


def main() -> None:
    from bench.common import machine, save

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="hostile-memory")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    save(args.name, {"commit": commit, "machine": machine(), **measure()})


if __name__ == "__main__":
    main()
