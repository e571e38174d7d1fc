"""The admin CLI against a real SQLite database, through the installed entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMAGE2AD_DATA_DIR": str(data_dir)}
    env.pop("IMAGE2AD_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "image2ad", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_admin_commands_create_a_user_a_key_and_credits(tmp_path: Path) -> None:
    created = run(tmp_path, "db", "upgrade").stdout
    assert "created the database schema" in created and "up to date" not in created
    assert "database is up to date" in run(tmp_path, "db", "upgrade").stdout
    out = run(tmp_path, "users", "create", "Ada@Example.com", "--credits", "3").stdout
    assert "ada@example.com" in out and "3 credits" in out
    key = run(tmp_path, "api-keys", "create", "ada@example.com").stdout.strip().splitlines()[-1]
    assert key.startswith("i2a_") and len(key) > 40
    assert "now has 8 credits" in run(tmp_path, "credits", "grant", "ada@example.com", "5").stdout

    duplicate = run(tmp_path, "users", "create", "ada@example.com", check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    missing = run(tmp_path, "credits", "grant", "nobody@example.com", "5", check=False)
    assert missing.returncode == 1 and "No user" in missing.stderr

    database = (tmp_path / "image2ad.sqlite").read_bytes()
    assert key.encode() not in database  # only the hash is stored


def test_serve_refuses_the_dev_secret_outside_the_embedded_shape(tmp_path: Path) -> None:
    env = {**os.environ, "IMAGE2AD_DATA_DIR": str(tmp_path), "KIE_API_KEY": "real-key"}
    env.pop("IMAGE2AD_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "image2ad", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "IMAGE2AD_SECRET_KEY" in result.stderr
