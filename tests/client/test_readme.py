"""The README's Python SDK example, run as written against the live app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.live_app import LiveApp

README = Path(__file__).resolve().parents[2] / "README.md"


def sdk_example() -> str:
    section = README.read_text().split("## Python SDK\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the Python SDK section has no example"
    return match.group(1)


def test_the_readme_example_runs(
    live_app: LiveApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = live_app.user(credits=30)
    code = sdk_example().replace("http://127.0.0.1:8000", live_app.base_url)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"api_key": user.api_key})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "30"
    assert out[1].startswith("pending ") and "completed None 100" in out  # from on_update
    assert (tmp_path / "can.png").read_bytes().startswith(b"\x89PNG")
    scene_id, charged, width, height = out[-1].split()
    assert int(charged) > 1 and int(width) > 0 and int(height) > 0
    with live_app.client(user) as client:
        assert client.get(f"/api/v1/jobs/{scene_id}").json()["status"] == "completed"
