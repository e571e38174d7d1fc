"""store_result against real loopback servers: caps (S4), truncation (R18), the happy path."""

from __future__ import annotations

import hashlib
import io
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

from image2ad.jobs.download import DownloadFailed, DownloadRefused, store_result
from image2ad.net.errors import TooLarge, TooSlow, Truncated
from image2ad.net.safe_fetch import FetchPolicy
from image2ad.net.urls import Allowlist
from image2ad.storage.base import StorageError, StoredObject
from image2ad.storage.local import LocalStorage
from tests.security.servers import (
    Canary,
    FakeNetwork,
    HTTPServer,
    chunked_forever,
    respond,
    stream,
)

KEY = "results/u1/image/job-1.png"
CAP = 64 * 1024


def png_bytes(size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    canary = Canary()
    yield canary
    assert canary.close() == 0


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


@pytest.fixture
async def server(canary: Canary) -> AsyncIterator[HTTPServer]:
    async with HTTPServer() as server:
        yield server


def policy_for(server: HTTPServer, canary: Canary, **limits: float) -> FetchPolicy:
    network = FakeNetwork(canary.port)
    network.route("127.0.0.1", server.port, server)
    settings: dict[str, float] = {
        "max_bytes": CAP,
        "timeout_s": 5.0,
        "min_rate": 1.0,
        "rate_window_s": 2.0,
    } | limits
    return FetchPolicy(
        Allowlist.build([], [server.origin]),
        max_bytes=int(settings["max_bytes"]),
        timeout_s=settings["timeout_s"],
        min_rate=settings["min_rate"],
        rate_window_s=settings["rate_window_s"],
        network=network,
    )


def files_in(storage: LocalStorage) -> list[Path]:
    return [p for p in storage.root.rglob("*") if p.is_file()]


async def test_happy_path_stores_the_image(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    body = png_bytes()
    server.routes["/_emulator/files/t1/a.png"] = respond(
        body, headers={"Content-Type": "image/png"}
    )
    stored = await store_result(
        server.url("/_emulator/files/t1/a.png"),
        storage,
        KEY,
        policy=policy_for(server, canary),
        result_type="image",
    )
    assert (stored.size, stored.content_type, stored.width, stored.height) == (
        len(body),
        "image/png",
        64,
        64,
    )
    assert (storage.root / KEY).read_bytes() == body
    assert stored.sha256 == hashlib.sha256(body).hexdigest()


async def test_sizes_are_as_shown_and_large_pngs_are_read_from_their_header(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    turned = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees
    Image.new("RGB", (300, 200)).save(turned, "JPEG", exif=exif.tobytes())
    noisy = io.BytesIO()
    Image.effect_noise((1024, 1024), 80).save(noisy, "PNG")
    assert len(noisy.getvalue()) > 512 * 1024  # more than the head the check reads
    cases = [
        ("turned.jpg", turned.getvalue(), (200, 300)),
        ("big.png", noisy.getvalue(), (1024, 1024)),
    ]
    for name, body, size in cases:
        server.routes[f"/{name}"] = respond(body)
        stored = await store_result(
            server.url(f"/{name}"),
            storage,
            KEY,
            policy=policy_for(server, canary, max_bytes=len(body)),
            result_type="image",
        )
        assert (stored.width, stored.height) == size
        assert stored.sha256 == hashlib.sha256(body).hexdigest()
    assert files_in(storage) == [storage.root / KEY]


async def test_declared_length_over_the_cap_is_refused_up_front(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    server.routes["/big"] = stream(b"x" * 1024, count=1, headers={"Content-Length": str(CAP + 1)})
    with pytest.raises(DownloadRefused, match="limit") as refused:
        await store_result(
            server.url("/big"), storage, KEY, policy=policy_for(server, canary), result_type="image"
        )
    assert isinstance(refused.value.__cause__, TooLarge)
    assert files_in(storage) == []


@pytest.mark.parametrize("framing", ["chunked", "close-delimited"])
async def test_a_body_streaming_past_the_cap_is_cut(
    framing: str, server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    piece = png_bytes(8)[:16] + b"\0" * 4080
    server.routes["/endless"] = (
        chunked_forever(piece) if framing == "chunked" else stream(piece, count=None)
    )
    with pytest.raises(DownloadRefused) as refused:
        await store_result(
            server.url("/endless"),
            storage,
            KEY,
            policy=policy_for(server, canary),
            result_type="image",
        )
    assert isinstance(refused.value.__cause__, TooLarge)
    assert files_in(storage) == []


async def test_drip_feed_is_aborted_by_the_rate_floor(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    server.routes["/drip"] = stream(b"x", interval=0.02, headers={"Content-Length": "10000"})
    started = time.monotonic()
    with pytest.raises(DownloadFailed, match="B/s") as failed:
        await store_result(
            server.url("/drip"),
            storage,
            KEY,
            policy=policy_for(server, canary, min_rate=1000, rate_window_s=0.3),
            result_type="image",
        )
    assert isinstance(failed.value.__cause__, TooSlow)
    assert time.monotonic() - started < 1.5
    assert files_in(storage) == []


async def test_a_stalled_body_is_aborted(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    server.routes["/stall"] = stream(b"x", count=1, interval=30, headers={"Content-Length": "10"})
    started = time.monotonic()
    with pytest.raises(DownloadFailed, match="stalled"):
        await store_result(
            server.url("/stall"),
            storage,
            KEY,
            policy=policy_for(server, canary, rate_window_s=0.3),
            result_type="image",
        )
    assert time.monotonic() - started < 1.5
    assert files_in(storage) == []


async def test_total_time_cap(server: HTTPServer, canary: Canary, storage: LocalStorage) -> None:
    server.routes["/slow"] = stream(b"x" * 100, interval=0.05, headers={"Content-Length": "60000"})
    started = time.monotonic()
    with pytest.raises(DownloadFailed, match=r"longer than 0\.5 s") as failed:
        await store_result(
            server.url("/slow"),
            storage,
            KEY,
            policy=policy_for(server, canary, timeout_s=0.5, min_rate=100, rate_window_s=0.2),
            result_type="image",
        )
    assert isinstance(failed.value.__cause__, TooSlow)
    assert time.monotonic() - started < 1.5
    assert files_in(storage) == []


async def test_connection_reset_mid_body_leaves_nothing(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    server.routes["/reset"] = stream(
        png_bytes()[:512], count=4, headers={"Content-Length": "10000"}, then_reset=True
    )
    with pytest.raises(DownloadFailed) as failed:
        await store_result(
            server.url("/reset"),
            storage,
            KEY,
            policy=policy_for(server, canary),
            result_type="image",
        )
    assert isinstance(failed.value.__cause__, Truncated)
    assert files_in(storage) == []


async def test_short_body_is_truncated_not_completed(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    body = png_bytes()
    server.routes["/short"] = stream(body, count=1, headers={"Content-Length": str(len(body) + 10)})
    with pytest.raises(DownloadFailed) as failed:
        await store_result(
            server.url("/short"),
            storage,
            KEY,
            policy=policy_for(server, canary),
            result_type="image",
        )
    assert isinstance(failed.value.__cause__, Truncated)
    assert files_in(storage) == []


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, DownloadFailed), (429, DownloadFailed), (404, DownloadRefused), (403, DownloadRefused)],
)
async def test_status_codes(
    status: int,
    error: type[Exception],
    server: HTTPServer,
    canary: Canary,
    storage: LocalStorage,
) -> None:
    server.routes["/status"] = respond(b"no", status=status)
    with pytest.raises(error, match=str(status)):
        await store_result(
            server.url("/status"),
            storage,
            KEY,
            policy=policy_for(server, canary),
            result_type="image",
        )
    assert files_in(storage) == []


async def test_encoded_body_is_refused(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    server.routes["/gz"] = respond(b"\x1f\x8b...", headers={"Content-Encoding": "gzip"})
    with pytest.raises(DownloadRefused, match="gzip"):
        await store_result(
            server.url("/gz"), storage, KEY, policy=policy_for(server, canary), result_type="image"
        )


async def test_not_an_image_is_refused_and_removed(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    server.routes["/html"] = respond(b"<html>surprise</html>")
    with pytest.raises(DownloadRefused, match="not a readable image"):
        await store_result(
            server.url("/html"),
            storage,
            KEY,
            policy=policy_for(server, canary),
            result_type="image",
        )
    assert files_in(storage) == []


async def test_refused_url_never_connects(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    policy = policy_for(server, canary)
    with pytest.raises(DownloadRefused, match="plain http is not allowed"):
        await store_result(
            "http://169.254.169.254/latest/meta-data/",
            storage,
            KEY,
            policy=policy,
            result_type="image",
        )
    assert server.requests == []
    assert canary.hits == 0


async def test_storage_errors_are_transient(
    server: HTTPServer, canary: Canary, tmp_path: Path
) -> None:
    class BrokenStorage(LocalStorage):
        async def write(self, key: str, chunks: AsyncIterator[bytes]) -> StoredObject:
            async for _ in chunks:
                raise StorageError("disk on fire")
            raise AssertionError("unreachable")

    server.routes["/ok"] = respond(png_bytes())
    with pytest.raises(DownloadFailed, match="storing the result failed"):
        await store_result(
            server.url("/ok"),
            BrokenStorage(tmp_path),
            KEY,
            policy=policy_for(server, canary),
            result_type="image",
        )


async def test_memory_stays_flat_for_a_large_body(
    server: HTTPServer, canary: Canary, storage: LocalStorage
) -> None:
    """S4: 32 MiB streamed to storage with a traced peak far below the body size."""
    chunk = png_bytes(16).ljust(64 * 1024, b"\0")
    count = 512
    size = len(chunk) * count
    server.routes["/large"] = stream(chunk, count=count, headers={"Content-Length": str(size)})
    tracemalloc.start()
    try:
        stored = await store_result(
            server.url("/large"),
            storage,
            KEY,
            policy=policy_for(server, canary, max_bytes=size),
            result_type="image",
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == size
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while streaming {size}"
