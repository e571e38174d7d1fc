"""`image2ad generate`, the installed command, against the live app: a thin layer on the SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.fixtures.factories import TestUser
from tests.fixtures.live_app import LiveApp

COMMAND = Path(sys.executable).with_name("image2ad")


def generate(
    live_app: LiveApp, user: TestUser | None, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE2AD_", "KIE_"))}
    auth = ["--api-key", user.api_key] if user else []
    return subprocess.run(
        [str(COMMAND), "generate", *args, "--url", live_app.base_url, *auth],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def result(live_app: LiveApp, user: TestUser, job_id: str) -> bytes:
    with live_app.client(user) as client:
        return client.get(f"/api/v1/jobs/{job_id}/result").content


def test_json_prints_the_final_job_and_the_result_is_saved(
    live_app: LiveApp, tmp_path: Path
) -> None:
    user = live_app.user(credits=3)
    target = tmp_path / "ad.png"
    args = ["text-to-image", "Cold brew, SUMMER SALE", "--model", "google/nano-banana"]
    done = generate(live_app, user, *args, "--aspect-ratio", "4:5", "--out", str(target), "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "completed" and job["model"] == "google/nano-banana"
    assert job["params"]["aspect_ratio"] == "4:5"
    assert target.read_bytes() == result(live_app, user, job["id"])
    assert f"saved {target}" in done.stderr


def test_image_to_image_saves_under_the_result_name(live_app: LiveApp, tmp_path: Path) -> None:
    user = live_app.user()
    reference = tmp_path / "can.png"
    Image.new("RGB", (320, 240), (240, 200, 40)).save(reference)
    done = generate(
        live_app, user, "image-to-image", "The can", "--image", str(reference), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("saved ") and " bytes) from job " in line
    name, job_id = line.split()[1], line.rsplit(" ", 1)[-1]
    assert (tmp_path / name).read_bytes() == result(live_app, user, job_id)


def test_errors_are_reported_with_their_exit_codes(live_app: LiveApp, tmp_path: Path) -> None:
    poor = generate(live_app, live_app.user(credits=0), "text-to-image", "A yacht", cwd=tmp_path)
    assert poor.returncode == 1
    assert "error (402) insufficient_credits:" in poor.stderr

    keyless = generate(live_app, None, "text-to-image", "A yacht", cwd=tmp_path)
    assert keyless.returncode == 2 and "IMAGE2AD_API_KEY" in keyless.stderr

    user = live_app.user()
    live_app.emulator.out_of_credits = True
    failed = generate(live_app, user, "text-to-image", "A yacht", "--json", cwd=tmp_path)
    assert failed.returncode == 1
    job = json.loads(failed.stdout)
    assert job["status"] == "failed" and job["credits_refunded"] == 1
    assert f"job {job['id']} failed: " in failed.stderr
    assert list(tmp_path.iterdir()) == []
