"""A result downloads under a name that says what it is: type, prompt words, day made."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from image2ad.jobs.naming import download_name, slug
from tests.fixtures.live_app import LiveApp

DAY = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Cold brew can on ice, 20% off!", "cold-brew-can-on-ice-20-off"),
        ("Crème brûlée — Café SUMMER sale", "creme-brulee-cafe-summer-sale"),
        ("   ", ""),
        ("日本語だけ", ""),
        ("a" * 80, "a" * 48),
        (
            "Slow push-in on a steaming latte as morning light fills the cafe window",
            "slow-push-in-on-a-steaming-latte-as-morning",
        ),
        ("../../etc/passwd\r\nX-Header: 1", "etc-passwd-x-header-1"),
    ],
)
def test_slug_keeps_safe_words_within_the_limit(prompt: str, expected: str) -> None:
    assert slug(prompt) == expected
    assert len(slug(prompt)) <= 48


def test_the_name_has_the_type_the_words_the_day_and_the_stored_extension() -> None:
    assert (
        download_name("text-to-video", "Waves at dusk", DAY, "u/abc-123.MP4")
        == "text-to-video-waves-at-dusk-2026-11-30.mp4"
    )
    assert download_name("image-to-image", "!!! ???", DAY, "u/x.jpg") == (
        "image-to-image-untitled-2026-11-30.jpg"
    )


def test_the_result_endpoint_sends_the_name(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        made = client.post(
            "/api/v1/jobs", json={"type": "text-to-image", "prompt": "Gold watch, black velvet"}
        ).json()
        job = live_app.wait_job(client, made["id"])
        assert job["status"] == "completed"
        reply = client.get(f"/api/v1/jobs/{job['id']}/result")
    assert reply.status_code == 200
    day = job["created_at"][:10]
    assert reply.headers["content-disposition"] == (
        f'inline; filename="text-to-image-gold-watch-black-velvet-{day}.png"'
    )
