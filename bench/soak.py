"""L2 soak: steady mixed traffic against a real `image2ad serve` process; watch it for leaks.

    .venv/bin/python -m bench.soak [--minutes 30] [--database-url URL] [--report docs/soak.md]

The Kie emulator runs in this process (1 % of tasks fail, each completion callback is sent 2-4
times, images take ~3 s and videos ~8 s); the server is a subprocess pointed at it, as in
tests/chaos. Traffic is open-loop (Poisson arrivals at fixed rates) from several users: jobs of
all four types (image types upload a small PNG first), status reads, listings, result downloads,
SSE streams for some jobs, cancels for a few, and the same Idempotency-Key re-sent for some.
Every 10 s the server's RSS and CPU time go to a CSV. At the end every job must be terminal and
the ledger must balance (reading the database); the RSS slope after the warm-up must stay below
8 MiB/h. The summary is printed and written as Markdown to --report.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Coroutine
from dataclasses import astuple, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
import sqlalchemy as sa
from tests.fixtures.emulator import RunningEmulator, run_emulator
from tests.fixtures.factories import TestUser, assert_ledger_invariants, create_user
from tests.fixtures.images import image_bytes
from tests.fixtures.processes import ServerProcess, free_port

from image2ad.db import Database
from image2ad.migrate import upgrade
from image2ad.models import CreditEntry, Job
from image2ad.providers.base import TaskState

REPO = Path(__file__).resolve().parents[1]
TARGET_MIB_PER_H = 8.0
SAMPLE_EVERY_S = 10.0
TERMINAL = ("completed", "failed", "canceled")
TYPE_WEIGHTS = {
    "text-to-image": 0.40,
    "image-to-image": 0.25,
    "text-to-video": 0.20,
    "image-to-video": 0.15,
}
IMAGE_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4")
WORDS = ("sneakers", "espresso", "sunset", "bicycle", "perfume", "headphones", "lemonade", "tent")
REPLAY_SHARE = 0.10
"""Jobs whose POST is sent again with the same Idempotency-Key (a quarter of them at once)."""
SSE_SHARE = 0.10
CANCEL_SHARE = 0.03
REUSE_UPLOAD_SHARE = 0.3


@dataclass(frozen=True)
class Options:
    minutes: float
    warmup_minutes: float
    users: int
    job_rate: float
    read_rate: float
    list_rate: float
    result_rate: float
    seed: int
    database_url: str | None
    work_dir: Path
    report: Path
    csv_path: Path
    drain_timeout_s: float
    max_in_flight: int
    trace_memory: bool
    trace_frames: int
    server_env: dict[str, str]
    command: str


# --- the server process: RSS and CPU -----------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    elapsed_s: float
    """Seconds since traffic started (0 for the idle sample taken just before)."""
    phase: str
    rss_mib: float
    hwm_mib: float
    cpu_s: float
    threads: int
    fds: int
    jobs_accepted: int
    requests: int
    answered: int
    """Responses below 500 so far."""


def read_process(pid: int) -> tuple[float, float, float, int, int]:
    """RSS and peak RSS (MiB), CPU seconds, threads and open descriptors of a live process."""
    status: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    # Fields 14 and 15 of /proc/pid/stat (after the parenthesised command) are utime and stime.
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return (
        int(status["VmRSS"].split()[0]) / 1024,
        int(status["VmHWM"].split()[0]) / 1024,
        cpu_s,
        int(status["Threads"]),
        len(os.listdir(f"/proc/{pid}/fd")),
    )


class Sampler:
    """Appends a sample of the server process to a list and a CSV file (flushed each time)."""

    def __init__(self, pid: int, csv_file: TextIO, traffic: Traffic) -> None:
        self.pid = pid
        self.traffic = traffic
        self.samples: list[Sample] = []
        self.phase = "idle"
        self.t0 = time.monotonic()
        self._csv_file = csv_file
        self._writer = csv.writer(csv_file)
        self._writer.writerow([f.name for f in fields(Sample)])

    def take(self) -> Sample:
        rss, hwm, cpu_s, threads, fds = read_process(self.pid)
        sample = Sample(
            elapsed_s=round(time.monotonic() - self.t0, 1),
            phase=self.phase,
            rss_mib=round(rss, 2),
            hwm_mib=round(hwm, 2),
            cpu_s=round(cpu_s, 2),
            threads=threads,
            fds=fds,
            jobs_accepted=len(self.traffic.accepted),
            requests=self.traffic.rec.requests,
            answered=self.traffic.rec.requests - self.traffic.rec.server_errors(),
        )
        self.samples.append(sample)
        self._writer.writerow(astuple(sample))
        self._csv_file.flush()
        return sample

    def start_traffic(self) -> None:
        self.t0 = time.monotonic()
        self.traffic_wall_start = time.time()
        self.phase = "traffic"

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY_S)
            self.take()


def longest_stall(samples: list[Sample]) -> float:
    """The longest stretch of traffic during which no request was answered below 500."""
    longest, since = 0.0, None
    for before, after in itertools.pairwise(samples):
        if after.phase != "traffic" or after.answered > before.answered:
            since = None
            continue
        since = before.elapsed_s if since is None else since
        longest = max(longest, after.elapsed_s - since)
    return longest


def rss_growth_mib_per_h(samples: list[Sample], warmup_s: float) -> float | None:
    """Slope of a least-squares line through the traffic samples taken after the warm-up."""
    kept = [s for s in samples if s.phase == "traffic" and s.elapsed_s >= warmup_s]
    if len(kept) < 3:
        return None
    slope, _ = statistics.linear_regression([s.elapsed_s for s in kept], [s.rss_mib for s in kept])
    return slope * 3600


# --- traffic -----------------------------------------------------------------------------------


@dataclass
class Recorder:
    """What the clients saw: responses per endpoint and status, latencies, surprises."""

    responses: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    events: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.responses.values())

    def server_errors(self) -> int:
        return sum(n for (_, status), n in self.responses.items() if status >= 500)

    def violation(self, text: str) -> None:
        if len(self.violations) < 200:
            self.violations.append(text)
        self.events["violations"] += 1


@dataclass
class SoakUser:
    account: TestUser
    client: httpx.AsyncClient
    recent_jobs: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    uploads: list[str] = field(default_factory=list)


class Traffic:
    """Open-loop load: each kind of request arrives at its own Poisson rate."""

    def __init__(self, users: list[SoakUser], opts: Options, recorder: Recorder) -> None:
        self.users = users
        self.opts = opts
        self.rec = recorder
        self.rng = random.Random(opts.seed)
        self.accepted: dict[str, str] = {}
        """Job id -> type, for every job a POST answered 202."""
        self.first_terminal: dict[str, str] = {}
        """The first terminal status any read showed for a job; it must never change."""
        self.completed: deque[tuple[SoakUser, str, str | None]] = deque(maxlen=200)
        """Recently completed jobs (owner, id, signed result link) for result downloads."""
        self._completed_ids: set[str] = set()
        self.canceled_ok: set[str] = set()
        self.in_flight: set[asyncio.Task[None]] = set()
        self._serial = 0

    # Each request goes through here so that every response and error is counted.
    async def call(
        self, user: SoakUser, endpoint: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await user.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.rec.transport_errors[f"{endpoint}: {type(exc).__name__}"] += 1
            return None
        self.rec.latencies[endpoint].append(time.monotonic() - started)
        self.rec.responses[(endpoint, response.status_code)] += 1
        return response

    def observe(self, user: SoakUser, job: dict[str, Any]) -> None:
        status = job["status"]
        if status not in TERMINAL:
            return
        first = self.first_terminal.setdefault(job["id"], status)
        if first != status:
            self.rec.violation(f"job {job['id']} was {first}, later read as {status}")
        if status == "completed" and job["id"] not in self._completed_ids:
            self._completed_ids.add(job["id"])
            self.completed.append((user, job["id"], job.get("result_url")))

    # --- job creation and what follows it ---

    async def create_job(self) -> None:
        user = self.rng.choice(self.users)
        self._serial += 1
        body = await self._job_body(user, self._serial)
        if body is None:
            return
        key = f"soak-{uuid.uuid4().hex}"
        draw = self.rng.random()
        if draw < REPLAY_SHARE / 4:
            # A client that fired twice at once: both name the same job, or one gets 409.
            first, second = await asyncio.gather(
                self._post_job(user, body, key), self._replay(user, body, key, concurrent=True)
            )
            if first and second and first != second:
                self.rec.violation(f"key {key}: concurrent POSTs made jobs {first} and {second}")
            job_id = first or second
        else:
            job_id = await self._post_job(user, body, key)
            if job_id and draw < REPLAY_SHARE:
                # A client that lost the answer and tried again a little later.
                await asyncio.sleep(self.rng.uniform(0.1, 2.0))
                again = await self._replay(user, body, key)
                if again and again != job_id:
                    self.rec.violation(f"key {key}: replay gave {again}, first POST {job_id}")
        if job_id is None:
            return
        draw = self.rng.random()
        if draw < SSE_SHARE:
            await self.follow_events(user, job_id)
        elif draw < SSE_SHARE + CANCEL_SHARE:
            await asyncio.sleep(self.rng.uniform(0.5, 6.0))
            await self.cancel(user, job_id)

    async def _job_body(self, user: SoakUser, serial: int) -> dict[str, Any] | None:
        kind = self.rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
        words = " ".join(self.rng.sample(WORDS, 3))
        body: dict[str, Any] = {"type": kind, "prompt": f"soak ad #{serial}: {words}"}
        if kind.endswith("image"):
            body["aspect_ratio"] = self.rng.choice(IMAGE_RATIOS)
            body["output_format"] = self.rng.choice(("png", "jpeg"))
        else:
            body["aspect_ratio"] = self.rng.choice(("landscape", "portrait"))
            body["n_frames"] = self.rng.choice(("10", "15"))
        if kind.startswith("image-to"):
            upload_id = await self._source_upload(user)
            if upload_id is None:
                return None
            body["source_upload_id"] = upload_id
        return body

    async def _source_upload(self, user: SoakUser) -> str | None:
        if user.uploads and self.rng.random() < REUSE_UPLOAD_SHARE:
            return self.rng.choice(user.uploads)
        color = tuple(self.rng.randrange(256) for _ in range(3))
        png = image_bytes(size=(96, 64), color=color)  # type: ignore[arg-type]
        response = await self.call(
            user, "POST /uploads", "POST", "/api/v1/uploads", files={"file": ("ref.png", png)}
        )
        if response is None or response.status_code != 201:
            return None
        upload_id = str(response.json()["id"])
        user.uploads.append(upload_id)
        return upload_id

    async def _post_job(self, user: SoakUser, body: dict[str, Any], key: str) -> str | None:
        response = await self.call(
            user, "POST /jobs", "POST", "/api/v1/jobs", json=body, headers={"Idempotency-Key": key}
        )
        if response is None or response.status_code != 202:
            return None
        job_id = str(response.json()["id"])
        self.accepted[job_id] = body["type"]
        user.recent_jobs.append(job_id)
        return job_id

    async def _replay(
        self, user: SoakUser, body: dict[str, Any], key: str, *, concurrent: bool = False
    ) -> str | None:
        self.rec.events["idempotent replays"] += 1
        response = await self.call(
            user,
            "POST /jobs (replay)",
            "POST",
            "/api/v1/jobs",
            json=body,
            headers={"Idempotency-Key": key},
        )
        if response is None or response.status_code == 409:  # the twin is still in flight
            return None
        if response.status_code != 202:
            self.rec.violation(f"key {key}: replay answered {response.status_code}")
            return None
        job_id = str(response.json()["id"])
        if job_id not in self.accepted:  # the concurrent twin has not answered yet, or got 409
            self.accepted[job_id] = body["type"]
            user.recent_jobs.append(job_id)
        elif not concurrent and response.headers.get("Idempotent-Replayed") != "true":
            self.rec.violation(f"key {key}: replay of {job_id} lacks Idempotent-Replayed")
        return job_id

    async def follow_events(self, user: SoakUser, job_id: str) -> None:
        """Read the job's SSE stream to its end; statuses must end terminal and never go back."""
        self.rec.events["SSE streams"] += 1
        started = time.monotonic()
        seen: list[str] = []
        try:
            async with user.client.stream(
                "GET", f"/api/v1/jobs/{job_id}/events", timeout=httpx.Timeout(10, read=60)
            ) as response:
                self.rec.responses[("GET /jobs/{id}/events", response.status_code)] += 1
                if response.status_code != 200:
                    return
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        job = json.loads(line[5:])
                        seen.append(job["status"])
                        self.observe(user, job)
        except httpx.HTTPError as exc:
            self.rec.transport_errors[f"GET /jobs/{{id}}/events: {type(exc).__name__}"] += 1
            return
        self.rec.latencies["GET /jobs/{id}/events (whole stream)"].append(
            time.monotonic() - started
        )
        if not seen or seen[-1] not in TERMINAL:
            self.rec.violation(f"SSE for {job_id} ended at {seen[-1:] or 'nothing'}")
        elif any(status in TERMINAL for status in seen[:-1]):
            self.rec.violation(f"SSE for {job_id} went on after a terminal state: {seen}")

    async def cancel(self, user: SoakUser, job_id: str) -> None:
        response = await self.call(
            user, "POST /jobs/{id}/cancel", "POST", f"/api/v1/jobs/{job_id}/cancel"
        )
        if response is None:
            return
        if response.status_code == 200:
            self.canceled_ok.add(job_id)
            self.observe(user, response.json())
        elif response.status_code != 409:  # 409: it finished first
            self.rec.violation(f"cancel of {job_id} answered {response.status_code}")

    # --- reads ---

    async def read_status(self) -> None:
        user = self.rng.choice(self.users)
        if not user.recent_jobs:
            return
        job_id = self.rng.choice(user.recent_jobs)
        response = await self.call(user, "GET /jobs/{id}", "GET", f"/api/v1/jobs/{job_id}")
        if response is not None and response.status_code == 200:
            self.observe(user, response.json())

    async def list_jobs(self) -> None:
        user = self.rng.choice(self.users)
        params: dict[str, Any] = {"limit": self.rng.choice((10, 24, 50))}
        pick = self.rng.random()
        if pick < 0.3:
            params["status"] = self.rng.choice((*TERMINAL, "processing"))
        elif pick < 0.5:
            params["type"] = self.rng.choice(list(TYPE_WEIGHTS))
        elif pick < 0.6:
            params["q"] = self.rng.choice(WORDS)
        response = await self.call(user, "GET /jobs", "GET", "/api/v1/jobs", params=params)
        if response is None or response.status_code != 200:
            return
        page = response.json()
        for job in page["items"]:
            self.observe(user, job)
        if page["next_cursor"] and self.rng.random() < 0.3:
            await self.call(
                user,
                "GET /jobs (next page)",
                "GET",
                "/api/v1/jobs",
                params={**params, "cursor": page["next_cursor"]},
            )

    async def fetch_result(self) -> None:
        if not self.completed:
            return
        user, job_id, signed_url = self.rng.choice(self.completed)
        if signed_url and self.rng.random() < 0.5:
            response = await self.call(user, "GET /files/{token}", "GET", signed_url)
        else:
            response = await self.call(
                user, "GET /jobs/{id}/result", "GET", f"/api/v1/jobs/{job_id}/result"
            )
        if response is not None and response.status_code == 200 and not response.content:
            self.rec.violation(f"empty result body for {job_id}")

    # --- the open loop ---

    async def arrivals(
        self, rate: float, action: Callable[[], Coroutine[Any, Any, None]], until: float
    ) -> None:
        """Start `action` at Poisson times with mean `rate` per second, without waiting for it."""
        if rate <= 0:
            return
        rng = random.Random(self.rng.random())
        next_at = time.monotonic()
        while True:
            next_at += rng.expovariate(rate)
            if next_at >= until:
                return
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if len(self.in_flight) >= self.opts.max_in_flight:
                self.rec.events["arrivals skipped (too many in flight)"] += 1
                continue
            task = asyncio.create_task(action())
            self.in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.rec.violation(f"harness error: {task.exception()!r}")

    async def run(self, seconds: float) -> None:
        """New requests for `seconds`; those still in flight at the end carry on."""
        until = time.monotonic() + seconds
        await asyncio.gather(
            self.arrivals(self.opts.job_rate, self.create_job, until),
            self.arrivals(self.opts.read_rate, self.read_status, until),
            self.arrivals(self.opts.list_rate, self.list_jobs, until),
            self.arrivals(self.opts.result_rate, self.fetch_result, until),
        )

    async def finish_in_flight(self) -> None:
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=120)


async def vary_duplicate_callbacks(emulator: RunningEmulator, rng: random.Random) -> None:
    """Each completion callback goes out 2-4 times; the number changes every second."""
    while True:
        emulator.state.duplicate_callbacks = rng.randint(1, 3)
        await asyncio.sleep(1.0)


async def wait_all_terminal(traffic: Traffic, give_up_after_s: float) -> None:
    """Poll each user's unfinished jobs until none is left (or the time is up)."""
    started = time.monotonic()
    while time.monotonic() - started < give_up_after_s:
        unfinished = 0
        for user in traffic.users:
            for status in ("pending", "processing"):
                response = await traffic.call(
                    user,
                    "GET /jobs (drain)",
                    "GET",
                    "/api/v1/jobs",
                    params={"status": status},
                    timeout=10,
                )
                if response is None or response.status_code != 200:
                    unfinished += 1
                else:
                    unfinished += len(response.json()["items"])
        if unfinished == 0:
            return
        await asyncio.sleep(2.0)


# --- after the run: the database ---------------------------------------------------------------


@dataclass
class Verdict:
    jobs_by_type: dict[str, Counter[str]]
    failures: list[str]
    warnings: list[str]
    facts: dict[str, Any]


def check_database(
    db: Database, traffic: Traffic, emulator: RunningEmulator, files_dir: Path
) -> Verdict:
    user_ids = [u.account.id for u in traffic.users]
    failures: list[str] = []
    warnings: list[str] = []
    for user_id in user_ids:
        try:
            assert_ledger_invariants(db, user_id)
        except AssertionError as exc:
            failures.append(f"ledger of user {user_id}: {exc!r}")
    with db.session(read_only=True) as session:
        jobs = session.scalars(sa.select(Job).where(Job.user_id.in_(user_ids))).all()
        per_job = session.execute(
            sa.select(CreditEntry.job_id, CreditEntry.kind, sa.func.count())
            .where(CreditEntry.user_id.in_(user_ids), CreditEntry.job_id.is_not(None))
            .group_by(CreditEntry.job_id, CreditEntry.kind)
        ).all()
    entries = {(str(job_id), kind): n for job_id, kind, n in per_job}
    by_id = {job.id: job for job in jobs}

    jobs_by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for job in jobs:
        jobs_by_type[job.type][job.status] += 1

    def fail_if(bad: list[str], what: str) -> None:
        if bad:
            failures.append(f"{len(bad)} {what}: {', '.join(bad[:5])}")

    fail_if([j for j in traffic.accepted if j not in by_id], "accepted jobs missing in the DB")
    fail_if([j.id for j in jobs if j.status not in TERMINAL], "jobs not terminal")
    fail_if([j.id for j in jobs if entries.get((j.id, "charge"), 0) != 1], "jobs without 1 charge")
    fail_if(
        [
            j.id
            for j in jobs
            if entries.get((j.id, "refund"), 0) != (1 if j.status in ("failed", "canceled") else 0)
        ],
        "jobs whose refund does not match failed/canceled",
    )
    fail_if(
        [j for j in traffic.canceled_ok if by_id[j].status != "canceled"],
        "jobs canceled with 200 but not canceled in the DB",
    )
    fail_if(
        [j for j, seen in traffic.first_terminal.items() if by_id[j].status != seen],
        "jobs whose terminal state changed after it was shown",
    )
    missing_files = [
        j.id
        for j in jobs
        if j.status == "completed"
        and (
            not j.result_path
            or not (files_dir / j.result_path).is_file()
            or (files_dir / j.result_path).stat().st_size != j.result_size
        )
    ]
    fail_if(missing_files, "completed jobs without their whole result file")

    unacknowledged = [j.id for j in jobs if j.id not in traffic.accepted]
    if unacknowledged:
        warnings.append(
            f"{len(unacknowledged)} jobs exist whose POST got no 202 (timeouts?): "
            + ", ".join(unacknowledged[:5])
        )
    odd_failures = Counter(
        j.error_code or "?"
        for j in jobs
        if j.status == "failed" and not (j.error_code or "").startswith("provider_failed")
    )
    if odd_failures:
        warnings.append(f"jobs failed for reasons other than the provider: {dict(odd_failures)}")

    tasks_per_job: Counter[str] = Counter()
    provider_failed_tasks = 0
    for task in list(emulator.state.tasks.values()):
        url = task.callback_url or ""
        job_id = (
            url.split("/callbacks/kie/", 1)[1].split("/", 1)[0] if "/callbacks/kie/" in url else ""
        )
        if job_id in by_id:
            tasks_per_job[job_id] += 1
            provider_failed_tasks += task.outcome is TaskState.FAIL
    resubmitted = [j for j, n in tasks_per_job.items() if n > 1]
    if resubmitted:
        warnings.append(
            f"{len(resubmitted)} jobs created more than one provider task: {resubmitted[:5]}"
        )
    callbacks = emulator.state.callback_attempts
    callback_statuses = Counter(f"{a.kind} {a.status_code or a.error}" for a in list(callbacks))
    if any(a.status_code is None or a.status_code >= 500 for a in list(callbacks)):
        failures.append(f"callback deliveries failed or answered 5xx: {dict(callback_statuses)}")
    facts = {
        "jobs in DB": len(jobs),
        "provider tasks": sum(tasks_per_job.values()),
        "provider tasks failed (injected)": provider_failed_tasks,
        "createTask calls refused by the emulator (429 etc.)": emulator.state.calls["createTask"]
        - len(emulator.state.tasks),
        "jobs failed by the provider": sum(
            j.status == "failed" and (j.error_code or "").startswith("provider_failed")
            for j in jobs
        ),
        "jobs canceled by the harness (200)": len(traffic.canceled_ok),
        "callback deliveries (kind status: count)": dict(callback_statuses),
        "emulator calls": dict(emulator.state.calls),
    }
    return Verdict(dict(jobs_by_type), failures, warnings, facts)


# --- optional: tracemalloc in the server process --------------------------------------------

TRACE_HOOK = """\
# Written by bench/soak.py --trace-memory; imported by the server process as sitecustomize.
import collections, ctypes, gc, json, os, threading, time, tracemalloc


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _native_probes():
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    import _sqlite3  # sqlite3_memory_used lives in libsqlite3, a dependency of _sqlite3
    sqlite_used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    sqlite_used.restype = ctypes.c_int64
    return libc.mallinfo2, sqlite_used


def _dump_forever(directory, every):
    mallinfo2, sqlite_used = _native_probes()
    for n in range(1, 1_000_000):
        time.sleep(every)
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot()
            snapshot.dump(os.path.join(directory, f"{n:05d}.tracemalloc"))
        types = collections.Counter(
            f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects()
        )
        heap = mallinfo2()
        meta = {
            "t": time.time(),
            "traced": tracemalloc.get_traced_memory()[0],
            # tracemalloc's own bookkeeping is malloc'd too; leave it out.
            "malloc_in_use": heap.uordblks + heap.hblkhd - tracemalloc.get_tracemalloc_memory(),
            "malloc_free": heap.fordblks,
            "sqlite": sqlite_used(),
            "types": types.most_common(400),
        }
        with open(os.path.join(directory, f"{n:05d}.json"), "w") as out:
            json.dump(meta, out)


if int(os.environ["SOAK_TRACE_FRAMES"]):
    tracemalloc.start(int(os.environ["SOAK_TRACE_FRAMES"]))
threading.Thread(
    target=_dump_forever,
    args=(os.environ["SOAK_TRACE_DIR"], float(os.environ["SOAK_TRACE_EVERY_S"])),
    name="soak-trace",
    daemon=True,
).start()
"""
TRACE_EVERY_S = 60.0


def trace_hook_env(work_dir: Path, frames: int) -> dict[str, str]:
    """Environment that makes the server record its memory every TRACE_EVERY_S.

    Object counts per type, malloc's and SQLite's totals always; tracemalloc snapshots only
    with `frames` > 0 (it slows the server several times over: use a lower load with it).
    """
    hook_dir, dumps = work_dir / "trace-hook", work_dir / "trace"
    hook_dir.mkdir(exist_ok=True)
    dumps.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(TRACE_HOOK)
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH")])),
        "SOAK_TRACE_DIR": str(dumps),
        "SOAK_TRACE_EVERY_S": str(TRACE_EVERY_S),
        "SOAK_TRACE_FRAMES": str(frames),
    }


def memory_trace_report(dumps: Path, since: float, until: float) -> list[str]:
    """Markdown: how the server's memory changed between the first and last dump in the window."""
    points: list[tuple[dict[str, Any], Path]] = []
    for meta_path in sorted(dumps.glob("*.json")):
        meta = json.loads(meta_path.read_text())
        if since <= meta["t"] <= until:
            points.append((meta, meta_path.with_suffix(".tracemalloc")))
    lines = ["", "## Memory trace (inside the server process)", ""]
    if len(points) < 3:
        return [*lines, "Too few snapshots after the warm-up."]
    (first, first_path), (last, last_path) = points[0], points[-1]
    minutes = (last["t"] - first["t"]) / 60
    lines += [
        f"From the first to the last snapshot after the warm-up ({minutes:.0f} min, "
        f"{len(points)} snapshots); slopes are least squares.",
        "",
        "| Memory | first MiB | last MiB | MiB/h |",
        "|---|---|---|---|",
    ]
    probes = {
        "traced": "Python objects (tracemalloc)",
        "malloc_in_use": "malloc in use (mallinfo2: C code, Python blocks > 512 B)",
        "malloc_free": "malloc free but not returned (fragmentation)",
        "sqlite": "SQLite (sqlite3_memory_used: page caches, statements)",
    }
    if not first["traced"]:
        del probes["traced"]
    for key, label in probes.items():
        slope, _ = statistics.linear_regression(
            [m["t"] for m, _ in points], [m[key] / 2**20 for m, _ in points]
        )
        lines.append(
            f"| {label} | {first[key] / 2**20:.1f} | {last[key] / 2**20:.1f} "
            f"| {slope * 3600:+.2f} |"
        )
    types_then, types_now = Counter(dict(first["types"])), Counter(dict(last["types"]))
    grown = sorted(
        ((types_now[name] - types_then[name], name) for name in types_now), reverse=True
    )[:15]
    lines += ["", "Object counts that grew the most (gc-tracked objects):", ""]
    lines += [
        f"- {name}: {types_then[name]} -> {types_now[name]} ({diff:+d})" for diff, name in grown
    ]
    if first_path.exists() and last_path.exists():
        lines += ["", "Largest growth by allocation site (newest frame first):", "", "```"]
        old = tracemalloc.Snapshot.load(str(first_path))
        new = tracemalloc.Snapshot.load(str(last_path))
        for stat in new.compare_to(old, "traceback")[:10]:
            lines.append(f"{stat.size_diff / 1024:+.0f} KiB, {stat.count_diff:+d} blocks")
            frames = [f"    {f.filename}:{f.lineno}" for f in reversed(stat.traceback)]
            lines += frames[:8]
        lines.append("```")
    return lines


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """When, on what and on which code the soak ran (taken at the start)."""

    started: datetime
    machine: str
    revision: str
    backend: str


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {mem_kib / 1024**2:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def git_revision() -> str:
    """HEAD, and whether tracked files differ from it (read-only: no index refresh)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    try:
        head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "-uno")
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + (" (with uncommitted changes)" if dirty else "")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render_report(
    opts: Options,
    where: Where,
    run: RunResult,
    verdict: Verdict,
    server_exit: int | None,
    log: ServerLog,
) -> tuple[str, bool]:
    """The Markdown summary, and whether the run met every target."""
    samples, rec = run.samples, run.traffic.rec
    growth = rss_growth_mib_per_h(samples, opts.warmup_minutes * 60)
    traffic_samples = [s for s in samples if s.phase == "traffic"]
    after_warmup = [s for s in traffic_samples if s.elapsed_s >= opts.warmup_minutes * 60]
    first, last = samples[0], samples[-1]
    cpu_share = (last.cpu_s - first.cpu_s) / max(1.0, last.elapsed_s - first.elapsed_s)
    leak_ok = growth is not None and growth < TARGET_MIB_PER_H
    passed = not verdict.failures and not rec.violations and leak_ok and rec.server_errors() == 0
    total_jobs = sum(sum(c.values()) for c in verdict.jobs_by_type.values())

    lines = [
        "# Soak test (L2)",
        "",
        f"**Result: {'PASS' if passed else 'FAIL'}** - RSS growth "
        + (f"{growth:+.2f} MiB/h" if growth is not None else "not measured (run too short)")
        + f" (target < {TARGET_MIB_PER_H:g}), {rec.server_errors()} responses 5xx, invariants "
        + ("hold" if not verdict.failures and not rec.violations else "BROKEN")
        + ".",
        "",
        "Produced by `bench/soak.py`:",
        "",
        "```",
        opts.command,
        "```",
        "",
        "| | |",
        "|---|---|",
        f"| Date | {where.started:%Y-%m-%d %H:%M} UTC |",
        f"| Machine | {where.machine} |",
        f"| Revision | {where.revision} |",
        f"| Database | {where.backend} |",
        f"| Traffic | {run.traffic_s / 60:.1f} min, then {run.drain_s:.0f} s to drain |",
        f"| Load (open loop) | {opts.users} users; {opts.job_rate:g} jobs/s, "
        f"{opts.read_rate:g} status reads/s, {opts.list_rate:g} listings/s, "
        f"{opts.result_rate:g} result downloads/s |",
        "| Faults | 1 % of provider tasks fail; every completion callback delivered 2-4 times |",
        "| Durations | images 3 s, videos 8 s (emulator) |",
        f"| Server exit | code {server_exit} after SIGTERM, "
        + ("graceful (application shutdown complete) |" if log.graceful_exit else "NOT graceful |"),
        f"| Server log | {log.warnings} warnings, {log.errors} errors or tracebacks |",
        f"| RSS samples | `{opts.csv_path}` (every {SAMPLE_EVERY_S:g} s) |",
        "",
        "## Memory and CPU of the server process",
        "",
        "| | |",
        "|---|---|",
        f"| RSS before traffic | {first.rss_mib:.1f} MiB |",
        f"| RSS at the end of the warm-up ({opts.warmup_minutes:g} min) | "
        + (f"{after_warmup[0].rss_mib:.1f} MiB |" if after_warmup else "- |"),
        f"| RSS at the end of traffic | {traffic_samples[-1].rss_mib:.1f} MiB |"
        if traffic_samples
        else "| RSS at the end of traffic | - |",
        f"| RSS after the drain | {last.rss_mib:.1f} MiB (peak {last.hwm_mib:.1f} MiB) |",
        "| RSS growth after the warm-up (least squares) | "
        + (
            f"**{growth:+.2f} MiB/h** over {len(after_warmup)} samples |"
            if growth is not None
            else "- |"
        ),
        f"| Threads / open files at the end | {last.threads} / {last.fds} "
        f"(start {first.threads} / {first.fds}) |",
        f"| CPU time | {last.cpu_s - first.cpu_s:.0f} s ({cpu_share:.0%} of one core) |",
        f"| Longest time with no answer below 500 (traffic) | {longest_stall(samples):.0f} s |",
        "",
        f"## Jobs ({total_jobs})",
        "",
        "| Type | completed | failed | canceled | other |",
        "|---|---|---|---|---|",
    ]
    for kind in TYPE_WEIGHTS:
        counts = verdict.jobs_by_type.get(kind, Counter())
        other = sum(n for status, n in counts.items() if status not in TERMINAL)
        lines.append(
            f"| {kind} | {counts['completed']} | {counts['failed']} | {counts['canceled']} "
            f"| {other} |"
        )
    lines += ["", "| Fact | Value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in verdict.facts.items()]
    lines += [f"| {name} | {count} |" for name, count in sorted(rec.events.items())]
    lines += [
        "",
        f"## Requests ({rec.requests}, {rec.server_errors()} with 5xx)",
        "",
        "| Endpoint | Responses by status | p50 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    endpoints = sorted({endpoint for endpoint, _ in rec.responses} | set(rec.latencies))
    for endpoint in endpoints:
        statuses = ", ".join(
            f"{status}: {n}"
            for (name, status), n in sorted(rec.responses.items())
            if name == endpoint
        )
        times = rec.latencies.get(endpoint) or []
        p50 = f"{percentile(times, 0.5) * 1000:.0f}" if times else "-"
        p99 = f"{percentile(times, 0.99) * 1000:.0f}" if times else "-"
        lines.append(f"| {endpoint} | {statuses or '-'} | {p50} | {p99} |")
    if rec.transport_errors:
        lines += [
            "",
            "Transport errors: "
            + ", ".join(f"{name}: {n}" for name, n in sorted(rec.transport_errors.items())),
        ]
    lines += ["", "## Invariants", ""]
    checks = [
        "every accepted job is in the database and terminal",
        "per user: balance == sum of the ledger >= 0 (`assert_ledger_invariants`)",
        "each job has exactly one charge, and one refund iff it failed or was canceled",
        "no ledger entry for an unknown job",
        "a job canceled with 200 is canceled; a terminal state once shown never changes",
        "every completed job has its whole result file in storage",
        "an Idempotency-Key replay names the original job (409 only while it is in flight)",
        "every SSE stream ends with a terminal state and nothing after it",
        "every callback delivery reached the server and got no 5xx",
    ]
    lines += [f"- {check}" for check in checks]
    lines += [""]
    problems = verdict.failures + rec.violations
    lines += [f"- **FAILED:** {problem}" for problem in problems] or ["All hold."]
    if verdict.warnings:
        lines += ["", "Worth a look:", ""] + [f"- {w}" for w in verdict.warnings]
    lines += ["", "## RSS over time", "", "| min | phase | RSS MiB | CPU s | threads |"]
    lines += ["|---|---|---|---|---|"]
    shown = samples[:: max(1, round(60 / SAMPLE_EVERY_S))] + samples[-1:]
    for s in dict.fromkeys(shown):
        lines.append(
            f"| {s.elapsed_s / 60:.1f} | {s.phase} | {s.rss_mib:.1f} | {s.cpu_s:.0f} "
            f"| {s.threads} |"
        )
    if opts.trace_memory:
        since, until = run.traffic_wall
        lines += memory_trace_report(
            opts.work_dir / "trace", since + opts.warmup_minutes * 60, until
        )
    return "\n".join(lines) + "\n", passed


# --- the run -----------------------------------------------------------------------------------


@dataclass
class RunResult:
    traffic: Traffic
    samples: list[Sample]
    traffic_s: float
    drain_s: float
    traffic_wall: tuple[float, float]
    """Wall-clock start and end of the traffic (time.time())."""


async def drive(
    opts: Options, server: ServerProcess, emulator: RunningEmulator, accounts: list[TestUser]
) -> RunResult:
    assert server.proc is not None
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    users = [
        SoakUser(
            account,
            httpx.AsyncClient(
                base_url=server.base_url, headers=account.headers, timeout=30, limits=limits
            ),
        )
        for account in accounts
    ]
    traffic = Traffic(users, opts, Recorder())
    with opts.csv_path.open("w", newline="") as csv_file:
        sampler = Sampler(server.proc.pid, csv_file, traffic)
        sampler.take()
        sampler.start_traffic()
        background = [
            asyncio.create_task(sampler.run_forever()),
            asyncio.create_task(vary_duplicate_callbacks(emulator, random.Random(opts.seed))),
        ]
        started = time.monotonic()
        try:
            await traffic.run(opts.minutes * 60)
            traffic_s = time.monotonic() - started
            traffic_wall = (sampler.traffic_wall_start, time.time())
            sampler.phase = "drain"
            await traffic.finish_in_flight()
            await wait_all_terminal(traffic, opts.drain_timeout_s)
            drain_s = time.monotonic() - started - traffic_s
            sampler.take()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            for user in users:
                await user.client.aclose()
    return RunResult(traffic, sampler.samples, traffic_s, drain_s, traffic_wall)


def server_env(opts: Options, database_url: str, emulator: RunningEmulator) -> dict[str, str]:
    """The chaos harness's setup with production timings: only the provider is emulated."""
    return {
        "IMAGE2AD_DATA_DIR": str(opts.work_dir),
        "IMAGE2AD_DATABASE_URL": database_url,
        "IMAGE2AD_SECRET_KEY": f"soak-{uuid.uuid4().hex}",
        "IMAGE2AD_EXECUTOR_ID": "soak",
        "KIE_API_KEY": emulator.api_key,
        "KIE_BASE_URL": emulator.base_url,
        "KIE_UPLOAD_BASE_URL": emulator.base_url,
        "IMAGE2AD_DOWNLOAD_HTTP_ORIGINS": emulator.base_url,
    }


@dataclass(frozen=True)
class ServerLog:
    warnings: int
    errors: int
    """Lines at ERROR or CRITICAL, and tracebacks."""
    graceful_exit: bool

    @classmethod
    def read(cls, path: Path) -> ServerLog:
        warnings = errors = 0
        graceful = False
        with path.open(errors="replace") as lines:
            for line in lines:
                warnings += " WARNING " in line
                errors += any(mark in line for mark in (" ERROR ", " CRITICAL ", "Traceback"))
                graceful = graceful or "Application shutdown complete" in line
        return cls(warnings, errors, graceful)


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--minutes", type=float, default=30.0, help="traffic duration")
    add("--warmup-minutes", type=float, default=5.0, help="left out of the RSS fit")
    add("--users", type=int, default=8)
    add("--job-rate", type=float, default=1.5, help="new jobs per second")
    add("--read-rate", type=float, default=20.0, help="status reads per second")
    add("--list-rate", type=float, default=1.0, help="listings per second")
    add("--result-rate", type=float, default=0.5, help="result downloads per second")
    add("--seed", type=int, default=1)
    add("--database-url", help="e.g. postgresql://... (default: SQLite in the work dir)")
    add("--work-dir", type=Path, help="data dir, logs and CSV (default: a new /tmp dir)")
    add("--report", type=Path, default=REPO / "docs" / "soak.md")
    add("--csv", type=Path, help="RSS samples (default: WORK_DIR/rss.csv)")
    add("--drain-timeout", type=float, default=600.0, help="seconds to wait for terminal jobs")
    add("--max-in-flight", type=int, default=256, help="skip arrivals beyond this many")
    add(
        "--trace-memory",
        action="store_true",
        help=f"record the server's object counts, malloc and SQLite memory every "
        f"{TRACE_EVERY_S:g} s; compared at the end",
    )
    add(
        "--trace-frames",
        type=int,
        default=0,
        help="also run tracemalloc with this many frames (slow; implies --trace-memory)",
    )
    add(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server (e.g. MALLOC_ARENA_MAX=2); repeatable",
    )
    args = parser.parse_args(argv)
    work_dir = (args.work_dir or Path(tempfile.mkdtemp(prefix="image2ad-soak-"))).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    return Options(
        minutes=args.minutes,
        warmup_minutes=args.warmup_minutes,
        users=args.users,
        job_rate=args.job_rate,
        read_rate=args.read_rate,
        list_rate=args.list_rate,
        result_rate=args.result_rate,
        seed=args.seed,
        database_url=args.database_url,
        work_dir=work_dir,
        report=args.report,
        csv_path=(args.csv or work_dir / "rss.csv").resolve(),
        drain_timeout_s=args.drain_timeout,
        max_in_flight=args.max_in_flight,
        trace_memory=args.trace_memory or args.trace_frames > 0,
        trace_frames=args.trace_frames,
        server_env=dict(item.split("=", 1) for item in args.server_env),
        command=shlex.join([".venv/bin/python", "-m", "bench.soak", *(argv or sys.argv[1:])]),
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    database_url = opts.database_url or f"sqlite:///{opts.work_dir / 'soak.sqlite'}"
    backend = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    where = Where(datetime.now(UTC), machine(), git_revision(), backend)
    upgrade(database_url)
    db = Database(database_url)
    accounts = [create_user(db, credits=1_000_000) for _ in range(opts.users)]
    print(f"soak: {opts.minutes:g} min on {backend}; work dir {opts.work_dir}", flush=True)
    with run_emulator(
        failure_rate=0.01,
        seed=opts.seed,
        image_duration_s=3.0,
        video_duration_s=8.0,
        create_limit=20,
        create_period_s=10.0,
        query_limit=10,
        callback_timeout_s=15.0,
        callback_attempts=3,
        callback_backoff_s=0.5,
    ) as emulator:
        # The emulator's default balance pays for about 20 minutes of this traffic; a soak that
        # runs the account dry measures refunds, not generations.
        emulator.state.balance = 1e12
        port = free_port()
        server = ServerProcess(
            {
                **server_env(opts, database_url, emulator),
                "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{port}",
                **(trace_hook_env(opts.work_dir, opts.trace_frames) if opts.trace_memory else {}),
                **opts.server_env,
            },
            port,
            opts.work_dir / "server.log",
        )
        server.start()
        try:
            run = asyncio.run(drive(opts, server, emulator, accounts))
        finally:
            server.stop()
        assert server.proc is not None
        verdict = check_database(db, run.traffic, emulator, opts.work_dir / "files")
    db.dispose()
    report, passed = render_report(
        opts,
        where,
        run,
        verdict,
        server.proc.returncode,
        ServerLog.read(server.log),
    )
    opts.report.parent.mkdir(parents=True, exist_ok=True)
    opts.report.write_text(report)
    print(report)
    print(f"report: {opts.report}\nsamples: {opts.csv_path}\nserver log: {server.log}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
