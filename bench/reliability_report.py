"""docs/reliability.md, rendered from the artifacts of one CI run; never edited by hand.

    .ci/run                 # writes reports/: run.json, junit.xml, chaos.jsonl, hostile.jsonl
    make reliability-report                     # = python -m bench.reliability_report reports
    .venv/bin/python -m bench.reliability_report record reports   # run.json (called by .ci/run)

The header states the commit, date and machine of the run the figures come from. The bench
chaos runs (bench/results/chaos*.json, `python -m bench.chaos`) are rendered too when present.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "reliability.md"
BENCH_RESULTS = ROOT / "bench" / "results"

# promise -> (what it means, the test files that back it)
PROMISES = {
    "1. No lost jobs": (
        "Every accepted job ends completed (file stored) or failed/canceled (credit returned), "
        "across kill -9, restarts, lost callbacks and provider outages.",
        [
            "tests/chaos/test_crash_points.py",
            "tests/test_faults.py",
            "tests/storage/test_partial_files.py",
            "tests/chaos/test_dead_worker.py",
            "tests/chaos/test_outages.py",
            "tests/chaos/test_create_timeouts.py",
            "tests/jobs/test_pipeline.py",
            "tests/jobs/test_orphans.py",
            "tests/jobs/test_provider_limits.py",
        ],
    ),
    "2. Charged once, refunded at most once": (
        "Append-only ledger; balance == sum(ledger) >= 0; UNIQUE (job_id, kind).",
        ["tests/credits/test_service.py", "tests/jobs/test_provider_faults.py"],
    ),
    "3. Safe retries": (
        "Same Idempotency-Key + body -> same job; different body -> 422; the web form's token "
        "makes a double submit one job.",
        ["tests/jobs/test_api.py", "tests/web/test_csrf.py"],
    ),
    "4. Private by default": (
        "Only the owner reaches a job, upload or result (others get 404); result links are "
        "signed and short-lived.",
        ["tests/security/test_cross_user.py", "tests/uploads/test_uploads.py"],
    ),
    "5. Hostile input stays outside": (
        "Authenticated callbacks confirmed by recordInfo; SSRF-safe downloads; uploads checked by "
        "content; Argon2id; hashed API keys; no secret in logs; CSRF; exact CORS; rate limits.",
        [
            "tests/security/test_ssrf.py",
            "tests/security/test_tls_pinning.py",
            "tests/security/test_url_policy.py",
            "tests/security/test_download_policy.py",
            "tests/security/test_ssrf_pipeline.py",
            "tests/security/test_log_secrets.py",
            "tests/jobs/test_limits.py",
            "tests/web/test_accounts.py",
            "tests/api/test_fuzz.py",
        ],
    ),
}


def outcomes(junit: Path) -> dict[str, Counter[str]]:
    """Per test file: passed / failed / skipped counts."""
    per_file: dict[str, Counter[str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        result = "passed"
        if case.find("failure") is not None or case.find("error") is not None:
            result = "failed"
        elif case.find("skipped") is not None:
            result = "skipped"
        per_file.setdefault(path, Counter())[result] += 1
    return per_file


def machine() -> str:
    cores = os.cpu_count()
    with open("/proc/meminfo") as meminfo:
        mem_kb = int(meminfo.readline().split()[1])
    return (
        f"{cores} cores, {mem_kb / 1024 / 1024:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


POINTS = {
    "P1": "job and charge committed, submit workflow not started",
    "P2": "createTask answered, task id not checkpointed",
    "P3": "task id saved, waiting for the provider",
    "P4": "provider done, download not started",
    "D1": "download midway: some bytes stored, object not whole",
    "S3": "between the parts of an S3 multipart upload",
    "V1": "video poster written, describe step not checkpointed",
    "P5": "file stored, job not completed",
    "P6": "job completed, step not checkpointed",
    "F": "failure and refund committed, step not checkpointed",
    "U1": "reference image uploaded to Kie, step not checkpointed",
    "C1": "result cropped to its placement and written back, step not checkpointed",
}
INVARIANTS = {
    "not_terminal": "jobs not terminal after recovery",
    "charges_not_one": "jobs without exactly one charge",
    "refund_mismatch": "jobs with a refund but not failed/canceled, or failed/canceled without one",
    "ledger_mismatch": "balance != sum of the ledger, or negative",
    "completed_file_missing": "completed jobs whose stored file is missing",
    "completed_file_wrong_size": "completed jobs whose stored file differs from result_size",
    "poster_missing": "completed videos without their poster",
    "files_without_job": "stored results no job refers to",
    "partial_files_left": "`.part` files (local) or open multipart uploads (S3) left",
    "unexplained_orphan_tasks": "provider tasks for our jobs that are not the job's task, "
    "beyond the one legitimate case (sent by a process killed before it saved the id)",
    "usage_events_not_one": "terminal jobs without exactly one usage event",
    "failed_not_by_provider": "jobs failed for a reason other than the provider's",
    "placement_ratio_wrong": "completed jobs made for a placement without its exact ratio",
    "result_sha256_wrong": "completed jobs whose result_sha256 is not that of the stored file",
    "unexplained_exits": "processes that died other than by a scheduled kill",
}


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()


def record(reports: Path) -> None:
    """What the report must state about the run: commit, start time, machine."""
    reports.mkdir(parents=True, exist_ok=True)
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    info = {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": dirty,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
    }
    (reports / "run.json").write_text(json.dumps(info, indent=2) + "\n")


def chaos_section(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| Backend | Storage | Shape | Seed | Kills | Process starts (port taken) | Jobs "
        "| Completed | Failed "
        "| Orphan provider tasks | Workflows recovered | Seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        c = run["config"]
        lines.append(
            f"| {c['backend']} | {c['storage']} | {c['shape']} | `{c['seed']}` | {run['kills']} "
            f"| {run['starts']} ({run.get('port_conflicts', 'not counted')}) | {run['jobs']} "
            f"| {run['completed']} | {run['failed']} "
            f"| {run['orphan_tasks']} | {run['workflows_recovered']} | {run['seconds']} |"
        )
    names = [
        f"{r['config']['backend']}/{r['config']['storage']}/{r['config']['shape']}" for r in runs
    ]
    lines += [
        "",
        "Per crash point, each cell is *kills · jobs in flight at those kills · workflows "
        "recovered after them*:",
        "",
        "| Point | Durable at the kill | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(runs),
    ]
    for point, meaning in POINTS.items():
        cells = []
        for run in runs:
            stats = run["points"].get(point)
            cells.append(
                "—"
                if stats is None
                else " · ".join(
                    str(stats[k]) for k in ("kills", "jobs_in_flight", "workflows_recovered")
                )
            )
        lines.append(f"| {point} | {meaning} | " + " | ".join(cells) + " |")
    totals = [
        str(sum(r["kills"] for r in runs if r["config"]["backend"] == b))
        for b in ("sqlite", "postgres")
    ]
    lines += [
        "",
        f"Kills: {totals[0]} on SQLite, {totals[1]} on PostgreSQL, "
        f"{sum(r['kills'] for r in runs)} in all.",
        "",
        "| Invariant (asserted after every run) | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(runs),
    ]
    for key, meaning in INVARIANTS.items():
        cells = [
            str(
                len(run["unexplained_exits"])
                if key == "unexplained_exits"
                else run["violations"].get(key, "—")
            )
            for run in runs
        ]
        lines.append(f"| {meaning} | " + " | ".join(cells) + " |")
    return lines


def render(reports: Path) -> str:
    run = json.loads((reports / "run.json").read_text())
    code = int((reports / "exit-code").read_text().strip())
    per_file = outcomes(reports / "junit.xml")
    chaos = load_chaos(reports / "chaos.jsonl")
    total = Counter[str]()
    for counts in per_file.values():
        total.update(counts)
    changes = " plus uncommitted changes" if run["uncommitted_changes"] else ""
    lines = [
        "# Reliability: the promises, the tests behind them, the figures",
        "",
        f"Rendered by `make reliability-report` from the artifacts of one `.ci/run` (the whole "
        f"suite, `make test`): commit `{run['commit']}`{changes}, started {run['started']}, on "
        f"{run['machine']}. pytest exit code {code}: {total['passed']} passed, "
        f"{total['failed']} failed, {total['skipped']} skipped. Every test ends by checking the "
        "invariants in the database, not by reading logs.",
        "",
        "## Crash safety: kill -9 on a random schedule (R1)",
        "",
        "`tests/chaos/test_crash_points.py` runs real `image2ad serve` processes (and, in the "
        "scale-out shape, `serve --no-worker` plus two `worker`s) against a real database, "
        "the Kie emulator over HTTP and local storage or S3 (moto). Each process start gets "
        "`IMAGE2AD_FAULT=random:SEED:P:POINTS`: at every hit of a crash point it dies by "
        "SIGKILL with probability P, and logs the point and hit first so the kill replays "
        "(`IMAGE2AD_FAULT=POINT:HIT`). It is restarted at once; jobs (each type on its default "
        "model, and Veo 3.1, a second Kie API family, on both video types; the emulator fails "
        "about 15 %) are kept in flight throughout. From half the kills on, points not killed "
        "yet are aimed at directly. A job the server accepted is never re-sent by the client. "
        "After the last kill every job must end, and every invariant below is asserted.",
        "",
    ]
    crashes = [row for row in chaos if "config" in row]
    outages = [row for row in chaos if "outage" in row]
    lines += chaos_section(crashes) if crashes else ["No chaos report in this run's artifacts."]
    lines += outage_section(outages)
    benches = sorted(BENCH_RESULTS.glob("chaos*.json"))
    if benches:
        lines += ["", "## The long chaos runs (bench/chaos.py)"]
    for path in benches:
        bench = json.loads(path.read_text())
        m = bench["machine"]
        lines += [
            "",
            f"`{bench['command']}` at commit `{bench['commit']}`, {m['date']}, on "
            f"{m['cores']} cores, {m['ram_gib']} GiB, Python {m['python']}, "
            f"PostgreSQL {m.get('postgresql')}; {bench.get('seconds')} s "
            f"(`bench/results/{path.name}`).",
            "",
            *chaos_section(bench["runs"]),
        ]
    lines += hostile_section(load_chaos(reports / "hostile.jsonl"))
    lines += [
        "",
        "## Promises and their tests",
        "",
        "| Promise | Test file | Passed | Failed | Skipped |",
        "|---|---|---|---|---|",
    ]
    for promise, (meaning, files) in PROMISES.items():
        for index, path in enumerate(files):
            counts = per_file.get(path, Counter())
            label = f"**{promise}** — {meaning}" if index == 0 else ""
            lines.append(
                f"| {label} | `{path}` | {counts['passed']} | {counts['failed']} | "
                f"{counts['skipped']} |"
            )
    lines += [
        "",
        "## What a passing run asserts in the security and fault tests",
        "",
        "- **canary hits = 0**: every hostile result URL (loopback, private, link-local, "
        "169.254.169.254, CGNAT, IPv6-mapped, odd IPv4 encodings, http://, userinfo and suffix "
        "tricks, DNS rebinding, redirects to private addresses) is refused before a connection "
        "is made (`tests/security/test_ssrf.py`, `test_tls_pinning.py`).",
        "- **cross-user hits = 0**: user B gets 404 for user A's ids on every API route and page, "
        "by API key and by session cookie, and nothing of A's changes "
        "(`tests/security/test_cross_user.py`).",
        "- **5xx = 0**: schemathesis sends generated valid and invalid requests to every "
        "operation of `/openapi.json` on both databases; responses match the schema "
        "(`tests/api/test_fuzz.py`).",
        "- **secrets in debug logs = 0** (`tests/security/test_log_secrets.py`).",
        "- **double submissions = 0**: the same Idempotency-Key sent in parallel makes one job "
        "(`tests/jobs/test_api.py`).",
        "",
        "The soak (L2) runs by hand: see [soak.md](soak.md).",
    ]
    return "\n".join(lines) + "\n"


def outage_section(rows: list[dict[str, Any]]) -> list[str]:
    """tests/chaos/test_outages.py: one dependency cut for longer than every retry budget."""
    lines = [
        "",
        "## Outages longer than every retry budget",
        "",
        "`tests/chaos/test_outages.py` starts a real `image2ad serve` with 8 jobs, cuts one "
        "dependency through a forwarder (refused, or partitioned: connections hang) once the "
        "first job has completed, holds the outage past every retry budget, then restores it. "
        "Asserted: every job terminal by its deadline + one sweep + 10 s (for a database "
        "outage, from the later of the deadline and the restore), completed results served "
        "with their recorded size, one charge per job, a refund iff it failed.",
        "",
    ]
    if not rows:
        return [*lines, "No outage report in this run's artifacts."]
    lines += [
        "| Outage | Backend | Jobs | In flight at the cut | Completed | Failed (refunded) "
        "| Not terminal | Late | Double charges | Double refunds | Results not served "
        "| Kie tasks no job holds | Seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['outage']} | {r['backend']} | {r['jobs']} | {r['in_flight_at_cut']} "
            f"| {r['completed']} | {r['failed']} | {r['not_terminal']} | {r['late']} "
            f"| {r['double_charged']} | {r['double_refunded']} | {r['results_not_served']} "
            f"| {r['orphan_provider_tasks']} | {r['seconds']} |"
        )
    return lines


def hostile_section(rows: list[dict[str, Any]]) -> list[str]:
    """One row per test of tests/fixtures/hostile.py's report: what a stranger tried, the
    bound expected, what the run observed (peak RSS growth of a real server where measured)."""
    lines = ["", "## Hostile input", ""]
    if not rows:
        return [*lines, "No hostile-input report in this run's artifacts."]
    lines += [
        "| Finding | Test | Expected | Observed | Peak RSS growth | Passed |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: (str(r["finding"]), str(r["test"]))):
        growth = row.get("peak_rss_growth_mib")
        shown = "—" if growth is None else f"{growth} MiB"
        passed = "yes" if row["passed"] else "**no**"
        lines.append(
            f"| {row['finding']} | `{row['test']}` | {row['expected']} | {row['observed']} | "
            f"{shown} | {passed} |"
        )
    return lines


def load_chaos(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    if sys.argv[1:2] == ["record"]:
        record(Path(sys.argv[2]))
        return
    reports = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "reports")
    if not (reports / "run.json").exists():
        raise SystemExit(f"no CI artifacts in {reports}: run .ci/run first")
    OUT.write_text(render(reports))
    print(f"wrote {OUT} from {reports}")


if __name__ == "__main__":
    main()
