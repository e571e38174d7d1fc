"""Shared by the benchmarks: percentiles, the machine description, result files, process stats,
the catalog models a run's jobs go over."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from image2ad.catalog import Catalog

if TYPE_CHECKING:
    pass

RESULTS = Path(__file__).parent / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PY_SPY = str(Path(sys.executable).parent / "py-spy")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """p50/p90/p99/max of durations given in seconds, reported in milliseconds."""
    if not seconds:
        return {"n": 0}
    return {
        "n": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 1),
        "p90_ms": round(percentile(seconds, 90) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def machine(pg_dsn: str | None = None) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split()
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "ram_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }
    cpu = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line]
    if cpu:
        info["cpu"] = cpu[0].split(":", 1)[1].strip()
    if pg_dsn:
        with psycopg.connect(pg_dsn) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else None
    return info


def save(name: str, result: dict[str, Any]) -> Path:
    """Write a benchmark's result to bench/results/<name>.json and print it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"saved {path}")
    return path


def result_name(base: str, tag: str, models: str) -> str:
    """`<base>[-<tag>][-mixed]`: a mixed-model run never replaces its single-model file."""
    return "-".join(part for part in (base, tag, "" if models == "default" else models) if part)


def model_mix(models: str, job_type: str) -> list[str]:
    """What `--models` sends: nothing for `default` (the type's default model runs), else every
    model of the type the catalog lets new jobs use, withdrawn ones skipped, in catalog order.
    The catalog is the one the cluster's processes load (IMAGE2AD_CATALOG_FILE applies)."""
    if models == "default":
        return []
    override = os.environ.get("IMAGE2AD_CATALOG_FILE")
    catalog = Catalog.load(Path(override) if override else None)
    return [spec.id for spec in catalog.models(job_type) if not spec.withdrawn]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def py_spy_dump(pid: int) -> str:
    """A stack dump of a live process (py-spy), for the report when a target is missed."""
    out = subprocess.run([PY_SPY, "dump", "--pid", str(pid)], capture_output=True, text=True)
    return out.stdout or out.stderr
