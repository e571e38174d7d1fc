"""Unit tests for the pure pieces: sizing, signing, ranges, caches, upload store."""

import base64
import hashlib
import hmac

import pytest

from image2ad.providers.emulator.byteranges import RangeNotSatisfiable, byte_range
from image2ad.providers.emulator.callbacks import sign
from image2ad.providers.emulator.ratelimit import SlidingWindowLimiter
from image2ad.providers.emulator.render import frame_size, render_image
from image2ad.providers.emulator.rendercache import RenderCache
from image2ad.providers.emulator.uploads import UploadRejected, UploadStore, clean_upload_path


@pytest.mark.parametrize(
    ("ratio", "size"),
    [("1:1", (1024, 1024)), ("16:9", (1024, 576)), ("9:16", (576, 1024)), ("21:9", (1024, 439))],
)
def test_frame_size_keeps_the_long_side(ratio: str, size: tuple[int, int]) -> None:
    assert frame_size(ratio) == size


def test_render_copes_with_a_maximal_prompt() -> None:
    data = render_image("word " * 2000, "21:9")

    assert data.startswith(b"\x89PNG")


def test_sign_matches_kie_formula() -> None:
    expected = base64.b64encode(hmac.new(b"k", b"abc.1700000000", hashlib.sha256).digest()).decode()

    assert sign("k", "abc", 1700000000) == expected


def test_sliding_window_frees_slots_as_time_passes() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(2, 10.0, clock=lambda: now[0])

    assert [limiter.try_acquire("a") for _ in range(3)] == [True, True, False]
    assert limiter.try_acquire("b")
    now[0] = 10.0
    assert limiter.try_acquire("a")


def test_upload_store_evicts_the_oldest_files_over_its_cap() -> None:
    store = UploadStore(max_total_bytes=10)
    store.put("a", "a", b"12345", "text/plain")
    store.put("b", "b", b"12345", "text/plain")
    store.put("c", "c", b"1", "text/plain")

    assert store.get("a") is None
    assert store.get("b") is not None and store.get("c") is not None


@pytest.mark.parametrize("bad", [None, "", "/", "a/../b", 5])
def test_upload_path_must_be_a_clean_folder(bad: object) -> None:
    with pytest.raises(UploadRejected):
        clean_upload_path(bad)
    assert clean_upload_path("/images/u1/") == "images/u1"


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes=5-", (5, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=9-3", None),
        ("bytes=0-1,5-6", None),
        ("items=0-5", None),
        ("bytes=-", None),
    ],
)
def test_byte_range_reads_one_range_and_ignores_the_rest(
    header: str | None, span: tuple[int, int] | None
) -> None:
    assert byte_range(header, 100) == span


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0"])
def test_byte_range_past_the_end_is_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 100)


def test_render_cache_is_bounded_by_items_and_bytes() -> None:
    cache = RenderCache(max_items=2, max_bytes=10)
    cache.put(("a", "1"), b"1234")
    cache.put(("b", "1"), b"1234")
    cache.get(("a", "1"))
    cache.put(("c", "1"), b"1")

    assert cache.get(("b", "1")) is None
    assert cache.get(("a", "1")) is not None
    cache.put(("d", "1"), b"1234567890")
    assert len(cache) == 1
    assert cache.get(("d", "1")) is not None
