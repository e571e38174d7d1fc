"""Store one large result in S3 (moto, in its own process) and report this process's RSS growth.

    .venv/bin/python -m bench.s3_large_upload [--mib 500] [--part-mib 5] [--concurrency 2]

A fresh process gives the honest figure: a long test run has freed memory it can reuse.
Target (design.md): a 500 MB result stored with <= 32 MB extra RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import AsyncIterator

from tests.fixtures.s3 import run_moto
from tests.storage.memory import PeakRss, status_mib

from image2ad.storage.s3 import S3Storage

CHUNK = 256 * 1024


async def main(mib: int, part_mib: int, concurrency: int) -> dict[str, float]:
    with run_moto() as server:
        settings = server.settings(part_size_mb=part_mib, upload_concurrency=concurrency)
        store = S3Storage.from_url(server.url("bench"), settings)
        await store.write("warm-up.txt", _chunks(1))  # load obstore's client before measuring
        filler = os.urandom(CHUNK - 8)

        async def generated() -> AsyncIterator[bytes]:
            for index in range(mib * 1024 * 1024 // CHUNK):
                yield index.to_bytes(8, "big") + filler

        baseline = status_mib("VmRSS")
        started = time.monotonic()
        with PeakRss() as upload:
            stored = await store.write("results/big.mp4", generated())
        upload_s = time.monotonic() - started
        started = time.monotonic()
        with PeakRss() as download:
            size = sum([len(chunk) async for chunk in store.read("results/big.mp4")])
        download_s = time.monotonic() - started
        assert stored.size == size == mib * 1024 * 1024
        return {
            "mib": mib,
            "part_mib": part_mib,
            "concurrency": concurrency,
            "baseline_rss_mib": round(baseline, 1),
            "upload_rss_growth_mib": round(upload.growth_mib, 1),
            "upload_s": round(upload_s, 2),
            "download_rss_growth_mib": round(download.growth_mib, 1),
            "download_s": round(download_s, 2),
        }


async def _chunks(count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * 1024


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=500)
    parser.add_argument("--part-mib", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.mib, args.part_mib, args.concurrency))))
