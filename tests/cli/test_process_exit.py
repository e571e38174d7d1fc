"""An `image2ad` process that used S3 ends with its command's status, not SIGABRT.

obstore's Tokio threads may take the GIL just after a call returns; if the interpreter is
finalizing then, the process aborts (image2ad/cli/process_exit.py). Twenty S3 calls finished
right before exit made that happen in about a third of runs before the fix, so twelve runs
that all end cleanly show it is gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.fixtures.s3 import MotoS3

RUNS = 12

# A command added to the real `image2ad` app in the child, run through the real entry point.
CHILD = """
import asyncio, sys
import typer
from image2ad.cli.main import app, main
from image2ad.config import StorageSettings
from image2ad.storage.factory import storage_from_url

@app.command("touch-s3")
def touch_s3(url: str, status: int) -> None:
    storage = storage_from_url(url, StorageSettings())

    async def heads() -> list[bool]:
        return await asyncio.gather(*(storage.exists("absent") for _ in range(20)))

    print(sum(asyncio.run(heads())), flush=True)
    raise typer.Exit(status)

main()
"""


def run_child(moto_s3: MotoS3, url: str, status: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE2AD_")}
    return subprocess.run(
        [sys.executable, "-c", CHILD, "touch-s3", url, str(status)],
        env=env | moto_s3.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_exit_status_is_the_commands_after_s3_calls(moto_s3: MotoS3, s3_prefix: str) -> None:
    statuses = [0, 3] * (RUNS // 2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(lambda status: run_child(moto_s3, moto_s3.url(s3_prefix), status), statuses)
        )
    assert [run.returncode for run in runs] == statuses, [run.stderr[-300:] for run in runs]
    assert all(run.stdout == "0\n" for run in runs)
