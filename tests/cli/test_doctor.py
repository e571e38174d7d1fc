"""`image2ad doctor` on a healthy setup and a broken one, through the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.processes import free_port


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE2AD_", "KIE_"))}
    return subprocess.run(
        [sys.executable, "-m", "image2ad", "doctor", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_healthy_embedded_setup_passes(tmp_path: Path) -> None:
    env = {"IMAGE2AD_DATA_DIR": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-m", "image2ad", "db", "upgrade"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    result = doctor(env)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("python", "sqlite", "data dir", "database", "storage", "kie", "callbacks"):
        assert f"ok    {check}:" in result.stdout
    quiet = doctor(env, "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_a_real_kie_key_is_checked_with_its_balance(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    env = {
        "IMAGE2AD_DATA_DIR": str(tmp_path),
        "KIE_API_KEY": emulator.api_key,
        "KIE_BASE_URL": emulator.base_url,
    }
    result = doctor(env)
    assert "ok    kie: key accepted" in result.stdout, result.stdout + result.stderr
    # Callbacks cannot reach a loopback public URL from a real Kie: a warning with its fix.
    assert "warn  callbacks:" in result.stderr and "IMAGE2AD_PUBLIC_URL" in result.stderr


def test_a_broken_setup_fails_with_one_line_and_a_fix_per_problem(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    closed = free_port()
    env = {
        "IMAGE2AD_DATA_DIR": str(tmp_path),
        "IMAGE2AD_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{closed}/nothing",
        "IMAGE2AD_STORAGE_URL": "s3://missing-bucket/results",
        "IMAGE2AD_S3_ENDPOINT": f"http://127.0.0.1:{closed}",
        "IMAGE2AD_S3_ACCESS_KEY_ID": "x",
        "IMAGE2AD_S3_SECRET_ACCESS_KEY": "y",
        "IMAGE2AD_S3_REGION": "us-east-1",
        "KIE_API_KEY": "not-the-key",
        "KIE_BASE_URL": emulator.base_url,
    }
    result = doctor(env)
    assert result.returncode == 1
    failures = [line for line in result.stderr.splitlines() if line.startswith("fail")]
    assert {line.split(":")[0] for line in failures} == {
        "fail  database",
        "fail  storage",
        "fail  kie",
    }, result.stderr
    assert all(" — fix: " in line for line in failures)
    assert "not-the-key" not in result.stdout + result.stderr


def test_an_unmigrated_database_names_the_upgrade(tmp_path: Path) -> None:
    result = doctor({"IMAGE2AD_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "fail  database:" in result.stderr and "image2ad db upgrade" in result.stderr
