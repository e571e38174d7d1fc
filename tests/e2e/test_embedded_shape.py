"""The embedded shape as a user runs it: `image2ad serve` with SQLite and the built-in emulator.

This file is also what CI runs under Python 3.12 and 3.13 (`make test-embedded`), against this
machine's system SQLite: it starts the server, generates each type through the `generate`
command, and kills the server mid-job to see the job recovered.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.fixtures.processes import ServerProcess, free_port

TYPES = ["text-to-image", "image-to-image", "text-to-video", "image-to-video"]


def clean_environment() -> dict[str, str]:
    """This process's environment without image2ad or Kie settings: the defaults a user gets."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE2AD_", "KIE_"))}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "image2ad", *args],
        env={**clean_environment(), **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def embedded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    data = tmp_path_factory.mktemp("embedded")
    env = {
        "IMAGE2AD_DATA_DIR": str(data),
        "IMAGE2AD_EMULATOR_IMAGE_DURATION_S": "0.5",
        "IMAGE2AD_EMULATOR_VIDEO_DURATION_S": "1.0",
    }
    cli(env, "db", "upgrade")
    cli(env, "users", "create", "e2e@example.com", "--credits", "20")
    key = cli(env, "api-keys", "create", "e2e@example.com").stdout.strip().splitlines()[-1]
    port = free_port()
    server = ServerProcess(env, port, data / "server.log")
    server.env = {**clean_environment(), **env}
    server.start()
    try:
        yield server, {**env, "IMAGE2AD_URL": server.base_url, "IMAGE2AD_API_KEY": key}
    finally:
        server.stop()


RUNS = [(type_, []) for type_ in TYPES] + [
    ("text-to-video", ["--model", "veo3", "--param", "resolution=1080p"]),
    ("text-to-image", ["--model", "nano-banana-2", "--param", "resolution=2K"]),
]


@pytest.mark.parametrize(("type_", "extra"), RUNS, ids=lambda v: " ".join(v) if v else "default")
def test_each_type_is_generated_and_saved_by_the_cli(
    embedded: tuple[ServerProcess, dict[str, str]], type_: str, extra: list[str], tmp_path: Path
) -> None:
    _server, env = embedded
    out = tmp_path / "result"
    args = ["generate", type_, f"a {type_} ad for lemonade", "--out", str(out), *extra]
    if type_.startswith("image-to"):
        reference = tmp_path / "reference.png"
        Image.new("RGB", (320, 240), (240, 200, 40)).save(reference)
        args += ["--image", str(reference)]
    cli(env, *args)
    head = out.read_bytes()[:12]
    if type_.endswith("video"):
        assert head[4:8] == b"ftyp"
    else:
        assert head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8")


def test_a_job_in_flight_when_the_server_is_killed_completes_after_restart(
    embedded: tuple[ServerProcess, dict[str, str]],
) -> None:
    server, env = embedded
    server.stop()
    # Killed with the job accepted and charged, before it reached the provider. (The built-in
    # emulator keeps its tasks in memory: a task it was running does not survive a restart.)
    server.start({"IMAGE2AD_FAULT": "P1:1"})
    headers = {"Authorization": f"Bearer {env['IMAGE2AD_API_KEY']}"}
    prompt = "recovered after a crash"
    with pytest.raises(httpx.TransportError):  # the server dies before it answers
        httpx.post(
            f"{server.base_url}/api/v1/jobs",
            json={"type": "text-to-image", "prompt": prompt},
            headers=headers,
        )
    assert server.wait_exit(timeout=60) is not None, "the crash point was never reached"
    server.start()
    # No retry from the client: the server itself finds the accepted job and submits it.
    deadline = time.monotonic() + 90
    while True:
        listed = httpx.get(
            f"{server.base_url}/api/v1/jobs", params={"q": prompt}, headers=headers
        ).json()["items"]
        assert len(listed) == 1
        job = listed[0]
        if job["status"] in ("completed", "failed", "canceled") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["status"] == "completed", job
    result = httpx.get(f"{server.base_url}/api/v1/jobs/{job['id']}/result", headers=headers)
    assert result.status_code == 200 and result.content.startswith(b"\x89PNG")
