"""Run the reliability suite and write docs/reliability.md from what it measured.

    .venv/bin/python -m bench.reliability_report
    .venv/bin/python -m bench.reliability_report --from junit.xml chaos.jsonl EXIT_CODE

Runs the chaos, fault, security, idempotency and fuzzing tests on SQLite and PostgreSQL (about
15 minutes on 2 cores), then renders the promises, the tests behind them and the figures.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "reliability.md"

# promise -> (what it means, the test files that back it)
PROMISES = {
    "1. No lost jobs": (
        "Every accepted job ends completed (file stored) or failed/canceled (credit returned), "
        "across kill -9, restarts, lost callbacks and provider outages.",
        [
            "tests/chaos/test_crash_points.py",
            "tests/chaos/test_dead_worker.py",
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


def run_suite(chaos_report: Path, junit: Path) -> int:
    files = sorted({f for _, tests in PROMISES.values() for f in tests})
    env = {**os.environ, "CI": "true", "IMAGE2AD_CHAOS_REPORT": str(chaos_report)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        *files,
    ]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


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


def render(chaos: list[dict[str, object]], per_file: dict[str, Counter[str]], code: int) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    total = Counter[str]()
    for counts in per_file.values():
        total.update(counts)
    lines = [
        "# Reliability: the promises, the tests behind them, the figures",
        "",
        f"Last run: {now} on {machine()}; `python -m bench.reliability_report` "
        f"(pytest exit code {code}: {total['passed']} passed, {total['failed']} failed, "
        f"{total['skipped']} skipped). Every test ends by checking the invariants in the "
        "database (balance == sum of ledger >= 0, one charge per job, a refund iff the job "
        "failed or was canceled, every accepted job terminal), not by reading logs.",
        "",
        "## Crash safety: kill -9 at every crash point (R1)",
        "",
        "A real `image2ad serve` process is killed with SIGKILL at the Nth time it reaches the "
        "point (`IMAGE2AD_FAULT`), restarted, and the 50 jobs of the run are followed to the "
        "end. The emulator fails about 20 % of tasks so refunds happen too.",
        "",
        "| Backend | Point | Jobs | Completed | Failed (provider) | Lost | Double charges | "
        "Double refunds | Orphan provider tasks | Files without a job | Seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in chaos:
        lines.append(
            f"| {run['backend']} | {run['point']} | {run['jobs']} | {run['completed']} | "
            f"{run['failed']} | {run['lost']} | {run['double_charged']} | "
            f"{run['double_refunded']} | {run['orphan_provider_tasks']} | "
            f"{run['results_without_job']} | {run['seconds']} |"
        )
    keys = ("lost", "double_charged", "double_refunded", "orphan_provider_tasks")
    sums = {key: sum(int(str(run[key])) for run in chaos) for key in keys}
    lines += [
        "",
        f"Totals over {sum(int(str(r['jobs'])) for r in chaos)} jobs: lost {sums['lost']}, "
        f"double-charged {sums['double_charged']}, double-refunded {sums['double_refunded']}, "
        f"orphan provider tasks {sums['orphan_provider_tasks']}.",
        "",
        "Points: P1 job and charge committed, workflow not started; P2 createTask answered, "
        "task id not checkpointed (the re-run's per-attempt claim refuses to send again; the "
        "orphan is adopted through its callback); P3 waiting; P4 provider done, download not "
        "done; P5 file stored, job not completed; P6 completed, checkpoint not written; F "
        "failure recorded, refund not committed.",
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
        "## Figures from the security and fault tests",
        "",
        "Each of these is an assertion in the tests above, so a run that passes means:",
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
        "- **duplicate effects = 0**: duplicate and concurrent callbacks, a callback racing the "
        "poller, and a cancel racing a provider success leave one usage event and a consistent "
        "ledger (`tests/jobs/test_provider_faults.py`, `test_pipeline.py`).",
        "- **secrets in debug logs = 0**: API keys, callback secrets and the signing key never "
        "reach a log line (`tests/security/test_log_secrets.py`).",
        "- **double submissions = 0**: the same Idempotency-Key sent 10 times in parallel makes "
        "one job; a user with 3 credits firing 12 parallel jobs gets exactly 3 "
        "(`tests/jobs/test_api.py`).",
        "",
        "The 30-minute soak (L2) runs by hand: see [soak.md](soak.md).",
    ]
    return "\n".join(lines) + "\n"


def load_chaos(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    """Run the suite, or (`--from JUNIT CHAOS_JSONL EXIT_CODE`) render an earlier run of it."""
    if sys.argv[1:2] == ["--from"]:
        junit, chaos_report, code = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
        OUT.write_text(render(load_chaos(chaos_report), outcomes(junit), code))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            chaos_report, junit = Path(tmp) / "chaos.jsonl", Path(tmp) / "junit.xml"
            code = run_suite(chaos_report, junit)
            OUT.write_text(render(load_chaos(chaos_report), outcomes(junit), code))
    print(f"wrote {OUT} (pytest exit code {code})")
    sys.exit(code)


if __name__ == "__main__":
    main()
