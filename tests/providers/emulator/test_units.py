"""Unit tests for the pure pieces: sizing, signing, sliding window, upload store."""

import base64
import hashlib
import hmac

import pytest

from image2ad.providers.emulator.callbacks import sign
from image2ad.providers.emulator.ratelimit import SlidingWindowLimiter
from image2ad.providers.emulator.render import frame_size, render_image
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
