"""A second `serve` on a port already in use exits before its job engine starts.

Two live processes under one executor id re-run each other's workflows (a second paid
createTask): a process that cannot listen must not get as far as recovering workflows.
"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.processes import ServerProcess, free_port


def test_a_serve_that_cannot_take_its_port_starts_no_workflows(tmp_path: Path) -> None:
    port = free_port()
    env = {"IMAGE2AD_DATA_DIR": str(tmp_path), "IMAGE2AD_EXECUTOR_ID": "one-id"}
    first = ServerProcess(env, port, tmp_path / "first.log")
    second = ServerProcess(env, port, tmp_path / "second.log")
    first.start()
    try:
        second.start(wait=False)
        assert second.wait_exit(timeout=60) not in (None, 0)
    finally:
        first.stop()
    log = (tmp_path / "second.log").read_text()
    assert "Address already in use" in log
    assert "Application startup complete" not in log
