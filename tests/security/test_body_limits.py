"""Issue 11 finding 6: every route bounds the body it will read (1 MiB, uploads 10 MB plus
framing, the built-in emulator its own), whether the size is declared or streamed."""

from __future__ import annotations

from collections.abc import Iterator

from tests.fixtures.hostile import report
from tests.fixtures.live_app import LiveApp

MIB = 1024 * 1024


def streamed(size: int) -> Iterator[bytes]:
    """A body sent chunked: no Content-Length to refuse it by."""
    yield b'{"type": "text-to-image", "prompt": "'
    for _ in range(size // MIB):
        yield b"a" * MIB
    yield b'"}'


def test_every_route_refuses_an_oversized_body(live_app: LiveApp) -> None:
    user = live_app.user(credits=1)
    big = b"x" * (2 * MIB)
    answers: dict[str, int] = {}
    with live_app.client(user) as client:
        json_headers = {"Content-Type": "application/json"}
        answers["POST /api/v1/jobs"] = client.post(
            "/api/v1/jobs", content=big, headers=json_headers
        ).status_code
        answers["POST /api/v1/jobs (chunked)"] = client.post(
            "/api/v1/jobs", content=streamed(2 * MIB), headers=json_headers
        ).status_code
        answers["POST /api/v1/callbacks/kie"] = client.post(
            "/api/v1/callbacks/kie/job/secret", content=big, headers=json_headers
        ).status_code
        answers["POST /login"] = client.post(
            "/login",
            content=b"email=a%40b.c&password=" + big,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status_code
        answers["POST /api/v1/uploads"] = client.post(
            "/api/v1/uploads", files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * (11 * MIB))}
        ).status_code
        answers["POST /api/v1/jobs/x/cancel"] = client.post(
            "/api/v1/jobs/x/cancel", content=big
        ).status_code
        credits = client.get("/api/v1/me").json()["credits"]
    refused = {route: status for route, status in answers.items() if status != 413}
    assert report(
        "6 body size",
        "test_every_route_refuses_an_oversized_body",
        expected="413 for a 2 MiB body on every route (11 MiB on uploads), declared or chunked",
        observed=f"not refused: {refused}" if refused else "all 413",
        passed=not refused and credits == 1,
    ), answers


def test_the_builtin_emulator_keeps_its_own_limit(live_app: LiveApp) -> None:
    # Our own Kie client uploads reference images of up to 10 MB to it.
    key = live_app.app.state.runtime.kie_api_key
    with live_app.client() as client:
        reply = client.post(
            "/_emulator/api/file-stream-upload",
            files={"file": ("ref.png", b"\x89PNG\r\n\x1a\n" + b"0" * (3 * MIB))},
            data={"uploadPath": "refs", "fileName": "ref.png"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert reply.status_code == 200 and reply.json()["code"] == 200, reply.text
