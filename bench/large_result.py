"""A 500 MB result stored through the real download path (SSRF-safe fetch → local store) and
into S3 (bench/s3_large_upload.py, moto), against a plain file copy of the same bytes.

    .venv/bin/python -m bench.large_result [--mib 500] [--skip-s3]

The result is served over http by a separate process (`python -m http.server`) from a file that
starts like an MP4; this process's RSS growth is measured around `store_result`, in a fresh
interpreter so freed memory from earlier work cannot hide growth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cluster import free_port, wait_for
from bench.common import machine, save
from tests.storage.memory import PeakRss

from image2ad.config import Settings
from image2ad.jobs.download import store_result
from image2ad.runtime import Runtime

CHUNK = 1024 * 1024
FTYP = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def write_result(path: Path, mib: int) -> None:
    block = bytes(range(256)) * (CHUNK // 256)
    with path.open("wb") as out:
        out.write(FTYP + block[len(FTYP) :])
        for _ in range(mib - 1):
            out.write(block)


def file_copy(source: Path, target: Path) -> float:
    started = time.monotonic()
    shutil.copyfile(source, target)
    return time.monotonic() - started


async def download(url: str, origin: str, store_dir: Path) -> dict[str, Any]:
    settings = Settings(
        storage_url=store_dir.as_uri(),
        database_url=f"sqlite:///{store_dir / 'unused.sqlite'}",
        download={"http_origins": [origin]},  # type: ignore[arg-type]
        kie={"api_key": "unused"},  # type: ignore[arg-type]
    )
    rt = Runtime.build(settings, role="bench")
    policy = rt.download_policy()
    started = time.monotonic()
    with PeakRss() as rss:
        stored = await store_result(
            url, rt.storage, "results/big.mp4", policy=policy, result_type="video"
        )
    seconds = time.monotonic() - started
    rt.db.dispose()
    return {
        "size_mib": round(stored.size / CHUNK, 1),
        "rss_before_mib": round(rss.before, 1),
        "rss_growth_mib": round(rss.growth_mib, 1),
        "seconds": round(seconds, 2),
        "mib_per_s": round(stored.size / CHUNK / seconds, 1),
    }


def s3(mib: int) -> dict[str, Any]:
    """bench/s3_large_upload.py in its own interpreter; its last line is the JSON result."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.s3_large_upload", "--mib", str(mib)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=500)
    parser.add_argument("--skip-s3", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="large-result-") as tmp:
        root = Path(tmp)
        serve_dir, store_dir = root / "served", root / "store"
        serve_dir.mkdir()
        write_result(serve_dir / "big.mp4", args.mib)
        result["baseline_file_copy"] = {
            "seconds": round(copy_s := file_copy(serve_dir / "big.mp4", root / "copy.mp4"), 2),
            "mib_per_s": round(args.mib / copy_s, 1),
        }
        (root / "copy.mp4").unlink()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
            cwd=serve_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        origin = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _listening(port), 10, "http.server")
            result["local_store_via_download"] = asyncio.run(
                download(f"{origin}/big.mp4", origin, store_dir)
            )
        finally:
            server.terminate()
            server.wait()
    if not args.skip_s3:
        result["s3_moto"] = s3(args.mib)
    save("large-result", result)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    main()
