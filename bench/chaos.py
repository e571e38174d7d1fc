"""The chaos harness of tests/chaos/test_crash_points.py, run long: >= 1,000 kills per backend.

    .venv/bin/python -m bench.chaos [--kills 1000] [--backends sqlite,postgres] [--seed bench]
                                    [--storage local] [--shape embedded] [--hours 3]

Writes bench/results/NAME.json (default chaos): commit, machine, per run the kills per point,
jobs in flight, workflows recovered and every invariant's violations; `make reliability-report`
renders it into docs/reliability.md. Exits 1 when an invariant was violated, a process died
unexplained, or fewer kills than asked for happened in the time limit.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import machine, save
from tests.chaos.harness import ChaosConfig, harness
from tests.chaos.test_crash_points import describe
from tests.fixtures.database import PG_ADMIN_DSN

ROOT = Path(__file__).resolve().parent.parent


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head}{' (with uncommitted changes)' if dirty else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seed", default="bench")
    parser.add_argument("--storage", default="local", choices=["local", "s3"])
    parser.add_argument("--shape", default="embedded", choices=["embedded", "scale-out"])
    parser.add_argument("--hours", type=float, default=3.0, help="time limit per backend")
    parser.add_argument("--name", default="chaos", help="result file: bench/results/NAME.json")
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    started = time.time()
    output: dict[str, Any] = {
        "command": "python -m bench.chaos " + " ".join(f"--{k} {v}" for k, v in vars(args).items()),
        "commit": commit(),
        "machine": machine(PG_ADMIN_DSN),
        "runs": runs,
    }
    failed = False
    for backend in args.backends.split(","):
        config = ChaosConfig(
            backend,
            storage=args.storage,
            shape=args.shape,
            kills=args.kills,
            seed=f"{args.seed}-{backend}",
            time_limit_s=args.hours * 3600,
        )
        tmp = Path(tempfile.mkdtemp(prefix=f"chaos-{backend}-"))
        with harness(config, tmp) as chaos:
            result = chaos.run()
        print(describe(result), flush=True)
        summary = result.summary()
        summary["violation_examples"] = {k: v[:5] for k, v in result.violations.items() if v}
        runs.append(summary)
        bad = any(result.counts().values()) or bool(result.unexplained_exits)
        bad |= result.kills < args.kills
        if bad:
            print(f"logs, database and files kept in {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        failed |= bad
        output["seconds"] = round(time.time() - started, 1)
        save(args.name, output)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
