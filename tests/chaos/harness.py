"""The chaos harness (reliability-plan.md R1, issue 16): kill image2ad many times at every crash
point on a seeded random schedule, restart it each time, then check every promise.

Real parts only: `image2ad serve` (or `serve --no-worker` + `worker`s) as OS processes (started by
the fork server, tests/fixtures/forkserver.py), a real database, HTTP to the Kie emulator, which
runs in this process so its tasks outlive the kills, and local storage or S3 (moto).

Each process start gets `IMAGE2AD_FAULT=random:<seed>-<start>:<p>:<points>` (from half the kills
on, points not killed yet are aimed at with p = 1); the process writes the point and hit to the
kill log before it dies, so `IMAGE2AD_FAULT=<point>:<hit>` with the same job stream replays a
kill. Used by tests/chaos/test_crash_points.py and bench/chaos.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from image2ad.db import Database, is_sqlite
from image2ad.migrate import upgrade
from image2ad.models import CreditEntry, Job, UsageEvent, User
from image2ad.placements import PLACEMENTS as BY_ID
from image2ad.providers.emulator.veo import veo_of
from tests.fixtures.database import database_url
from tests.fixtures.emulator import RunningEmulator, run_emulator
from tests.fixtures.factories import TestUser, create_user
from tests.fixtures.forkserver import ForkedProcess, ForkServer
from tests.fixtures.images import image_bytes
from tests.fixtures.processes import free_port
from tests.fixtures.s3 import MotoS3, run_moto

POINTS = ["P1", "P2", "P3", "P4", "P5", "P6", "F", "D1", "V1", "U1", "C1"]
# Each type's default model, plus Veo 3.1 (its own API family) for both video types.
MIX = [
    ("text-to-image", None),
    ("image-to-image", None),
    ("text-to-video", None),
    ("image-to-video", None),
    ("text-to-video", "veo3"),
    ("image-to-video", "veo3"),
]
# Every other round of the mix is made for a placement, as a pack's jobs are (set on the row
# right after the job is accepted, long before its result arrives): most need a crop.
PLACEMENTS = ["story", "portrait", "link", "feed", "landscape"]
TERMINAL = {"completed", "failed", "canceled"}
# Results this large go to S3 as multipart uploads (the smallest part is 5 MiB).
S3_PADDING = 5 * 1024 * 1024 + 4096
SEND_SLACK_S = 5.0
INVARIANTS = [
    "not_terminal",
    "charges_not_one",
    "refund_mismatch",
    "ledger_mismatch",
    "completed_file_missing",
    "completed_file_wrong_size",
    "poster_missing",
    "files_without_job",
    "partial_files_left",
    "unexplained_orphan_tasks",
    "usage_events_not_one",
    "failed_not_by_provider",
    "placement_ratio_wrong",
    "result_sha256_wrong",
]


@dataclass
class ChaosConfig:
    backend: str
    storage: str = "local"
    shape: str = "embedded"
    kills: int = 100
    seed: str = "1"
    in_flight: int = 12
    probability: float = 0.25
    time_limit_s: float = 600.0
    settle_s: float = 120.0
    workers: int = 2

    @property
    def points(self) -> list[str]:
        if self.storage == "local":
            return POINTS
        # D1 fires at every chunk of a 5 MiB download and would starve S3, hit once per write;
        # the local runs cover D1.
        return [p for p in POINTS if p != "D1"] + ["S3"]

    @property
    def name(self) -> str:
        return f"{self.backend}-{self.storage}-{self.shape}"


@dataclass
class PointStats:
    kills: int = 0
    jobs_in_flight: int = 0
    workflows_pending: int = 0
    workflows_recovered: int = 0


@dataclass
class Kill:
    point: str
    hit: int
    seed: str
    process: str
    started_at: float
    at: float
    jobs_in_flight: int = 0
    workflows_pending: int = 0
    workflows_recovered: int = 0


@dataclass
class ChaosResult:
    config: dict[str, Any]
    kills: int = 0
    starts: int = 0
    unexplained_exits: list[str] = field(default_factory=list)
    port_conflicts: int = 0
    points: dict[str, PointStats] = field(default_factory=dict)
    jobs: int = 0
    completed: int = 0
    failed: int = 0
    canceled: int = 0
    orphan_tasks: int = 0
    workflows_recovered: int = 0
    seconds: float = 0.0
    violations: dict[str, list[str]] = field(default_factory=dict)
    kill_log: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(self.violations.get(name, [])) for name in INVARIANTS}

    def summary(self) -> dict[str, Any]:
        """One JSON line for the report (docs/reliability.md)."""
        data = asdict(self)
        data.pop("kill_log")
        data["violations"] = self.counts()
        return data


class Harness:
    def __init__(
        self,
        config: ChaosConfig,
        url: str,
        data_dir: Path,
        emulator: RunningEmulator,
        moto: MotoS3 | None,
        forks: ForkServer,
    ) -> None:
        self.config = config
        self.db = Database(url)
        self.url = url
        self.data_dir = data_dir
        self.emulator = emulator
        self.moto = moto
        self.forks = forks
        self.kill_log = data_dir / "kills.jsonl"
        self.rng = random.Random(config.seed)
        self.prefix = f"chaos-{config.name}"
        self.result = ChaosResult(config=asdict(config))
        self.kills: list[Kill] = []
        self.recovered_so_far = 0
        self.next_job = 0
        self.user: TestUser | None = None
        self.upload_id: str | None = None
        api_port = free_port()
        self.env = {
            "IMAGE2AD_DATA_DIR": str(data_dir),
            "IMAGE2AD_DATABASE_URL": url,
            "IMAGE2AD_SECRET_KEY": "chaos-harness-secret-key",
            "IMAGE2AD_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
            "IMAGE2AD_JOBS_POLL_SCHEDULE_S": "0.5,1,2",
            "IMAGE2AD_JOBS_CALLBACK_POLL_SCHEDULE_S": "0.5,1,2",
            "IMAGE2AD_JOBS_SWEEP_INTERVAL_S": "0.2",
            # A check claimed by a process that is then killed waits out its lease.
            "IMAGE2AD_JOBS_CHECK_LEASE_S": "5",
            "IMAGE2AD_JOBS_SUBMIT_GRACE_S": "3",
            "IMAGE2AD_JOBS_HEARTBEAT_S": "0.5",
            "IMAGE2AD_JOBS_EXECUTOR_DEAD_AFTER_S": "3",
            "IMAGE2AD_JOB_RATE_LIMIT": "100000/minute",
            "IMAGE2AD_MAX_ACTIVE_JOBS": "10000",
            "IMAGE2AD_FAULT_LOG": str(self.kill_log),
            "KIE_API_KEY": emulator.api_key,
            "KIE_BASE_URL": emulator.base_url,
            "KIE_UPLOAD_BASE_URL": emulator.base_url,
            "IMAGE2AD_DOWNLOAD_HTTP_ORIGINS": emulator.base_url,
        }
        if moto is not None:
            self.env |= moto.env() | {"IMAGE2AD_STORAGE_URL": moto.url(self.prefix)}
        self.processes = self._processes(api_port)

    def _processes(self, api_port: int) -> list[ForkedProcess]:
        log = self.data_dir
        if self.config.shape == "embedded":
            env = {"IMAGE2AD_EXECUTOR_ID": "chaos-serve"}
            return [ForkedProcess(self.forks, self.env | env, api_port, log / "serve.log")]
        api_args = ("serve", "--no-worker", "--port", str(api_port))
        api = ForkedProcess(
            self.forks,
            self.env | {"IMAGE2AD_EXECUTOR_ID": "chaos-api"},
            api_port,
            log / "api.log",
            *api_args,
        )
        workers = [
            ForkedProcess(
                self.forks,
                self.env | {"IMAGE2AD_EXECUTOR_ID": f"chaos-worker-{n}"},
                0,
                log / f"worker-{n}.log",
                "worker",
            )
            for n in range(self.config.workers)
        ]
        return [api, *workers]

    @property
    def api(self) -> ForkedProcess:
        return self.processes[0]

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> ChaosResult:
        started = time.monotonic()
        self.user = create_user(self.db, credits=1_000_000)
        for process in self.processes:
            self._start(process, faults=False)
        self.upload_id = self._upload_reference()
        for process in self.processes:
            process.stop()
            self._restart(process)
        deadline = started + self.config.time_limit_s
        with httpx.Client(base_url=self.api.base_url, headers=self.user.headers, timeout=10) as c:
            while len(self.kills) < self.config.kills and time.monotonic() < deadline:
                self._top_up(c)
                for process in self.processes:
                    if process.wait_exit(0.05) is not None:
                        self._on_exit(process)
                        self._restart(process)
            for process in self.processes:
                if process.wait_exit(0) is not None:
                    self._on_exit(process)
                process.stop()
                self._start(process, faults=False)
            self._wait_terminal(c)
            for process in reversed(self.processes):
                process.stop()
        self.result.seconds = round(time.monotonic() - started, 1)
        self._count_recoveries()
        self.check()
        return self.result

    def _start(self, process: ForkedProcess, faults: bool) -> None:
        """Start the process; one killed while starting (recovery runs first) starts again."""
        while True:
            extra: dict[str, str] = {}
            if faults:
                extra["IMAGE2AD_FAULT"] = self._schedule_for(process)
            self.result.starts += 1
            try:
                process.start(extra, wait=process.port != 0)
                return
            except RuntimeError:
                if process.alive():
                    raise
                self._on_exit(process)
                if len(self.result.unexplained_exits) > 3:
                    raise

    def _restart(self, process: ForkedProcess) -> None:
        self._start(process, faults=True)

    def _schedule_for(self, process: ForkedProcess) -> str:
        """The random schedule; in the second half of the kills, points never killed yet are
        aimed at directly (a process then dies at its first hit of one of them), so that rare
        points (V1 on videos only, F on failures only) are covered in a short run too."""
        points = self._points_for(process)
        seed = f"{self.config.seed}-{self.result.starts}"
        if len(self.kills) >= self.config.kills // 2:
            killed = {kill.point for kill in self.kills}
            never = [p for p in points if p not in killed]
            if never:
                return f"random:{seed}:1.0:{','.join(never)}"
        return f"random:{seed}:{self.config.probability}:{','.join(points)}"

    def _points_for(self, process: ForkedProcess) -> list[str]:
        # An API-only process reaches only P1; its workers reach the rest.
        if self.config.shape == "embedded":
            return self.config.points
        return ["P1"] if process is self.api else [p for p in self.config.points if p != "P1"]

    def _on_exit(self, process: ForkedProcess) -> None:
        code = process.wait_exit(0)
        logged = self._kill_entry(process.pid, process.started_at)
        if code != -9 or logged is None:
            if _port_taken(process.log):
                # Another program on the machine took the port between two of our processes.
                self.result.port_conflicts += 1
            else:
                self.result.unexplained_exits.append(f"{process.log.name}: exit {code}")
            return
        kill = Kill(
            point=logged["point"],
            hit=logged["hit"],
            seed=logged["seed"],
            process=process.log.stem,
            started_at=process.started_at,
            at=logged["at"],
            jobs_in_flight=self._jobs_in_flight(),
            workflows_pending=self._pending_workflows(process.env["IMAGE2AD_EXECUTOR_ID"]),
        )
        self._credit_recoveries()
        self.kills.append(kill)
        self.result.kill_log.append(asdict(kill))

    def _credit_recoveries(self) -> None:
        """Workflows DBOS ran again after a crash since the last kill go to that kill."""
        total = self._recovered_total()
        if self.kills:
            self.kills[-1].workflows_recovered += total - self.recovered_so_far
            self.result.kill_log[-1] = asdict(self.kills[-1])
        self.recovered_so_far = total

    def _kill_entry(self, pid: int | None, since: float) -> dict[str, Any] | None:
        """This process's kill, if it logged one (a reused pid's older kill is not it)."""
        if not self.kill_log.exists():
            return None
        for line in reversed(self.kill_log.read_text().splitlines()):
            entry = json.loads(line)
            if entry["pid"] == pid and entry["at"] >= since:
                return dict(entry)
        return None

    def _top_up(self, client: httpx.Client) -> None:
        missing = self.config.in_flight - self._jobs_in_flight()
        for _ in range(max(0, missing)):
            if not self._submit(client, self.next_job):
                return
            self.next_job += 1

    def _submit(self, client: httpx.Client, n: int) -> bool:
        """POST job n. After a lost answer, POST again only if the job was not committed: a
        job the server accepted must be finished by the server, not rescued by the client."""
        kind, model = MIX[n % len(MIX)]
        prompt = f"chaos {self.config.seed} ad #{n}"
        body: dict[str, Any] = {"type": kind, "prompt": prompt}
        if kind.startswith("image-to-"):
            body["source_upload_id"] = self.upload_id
        if model is not None:
            body["model"] = model
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = client.post(
                    "/api/v1/jobs", json=body, headers={"Idempotency-Key": prompt}
                )
            except httpx.TransportError:
                if self._job_exists(prompt):
                    return True
                if self.api.wait_exit(0.5) is not None:
                    self._on_exit(self.api)
                    self._restart(self.api)
                continue
            assert response.status_code == 202, response.text
            self._place(str(response.json()["id"]), n)
            return True
        raise AssertionError(f"job {n} could not be submitted")

    def _place(self, job_id: str, n: int) -> None:
        round_ = n // len(MIX)
        if round_ % 2 == 0:
            return
        placement = PLACEMENTS[(round_ // 2 + n) % len(PLACEMENTS)]
        with self.db.session() as session:
            session.execute(sa.update(Job).where(Job.id == job_id).values(placement=placement))

    def _upload_reference(self) -> str:
        assert self.user is not None
        response = httpx.post(
            f"{self.api.base_url}/api/v1/uploads",
            headers=self.user.headers,
            files={"file": ("ref.png", image_bytes(size=(96, 64)), "image/png")},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def _wait_terminal(self, client: httpx.Client) -> None:
        deadline = time.monotonic() + self.config.settle_s
        while time.monotonic() < deadline and self._jobs_in_flight():
            for process in self.processes:
                if not process.alive():
                    self.result.unexplained_exits.append(f"{process.log.name} died settling")
                    return
            time.sleep(0.2)

    # --- reading the database ----------------------------------------------------------------

    def _job_exists(self, prompt: str) -> bool:
        with self.db.session(read_only=True) as session:
            return session.scalar(sa.select(Job.id).where(Job.prompt == prompt)) is not None

    def _jobs_in_flight(self) -> int:
        with self.db.session(read_only=True) as session:
            count = session.scalar(
                sa.select(sa.func.count()).where(Job.status.not_in(list(TERMINAL)))
            )
        return int(count or 0)

    def _workflow_table(self) -> str:
        return "workflow_status" if is_sqlite(self.url) else "dbos.workflow_status"

    def _pending_workflows(self, executor_id: str) -> int:
        query = f"SELECT count(*) FROM {self._workflow_table()} WHERE status = 'PENDING' AND executor_id = :e"  # noqa: E501 - a fixed table name
        with self.db.session(read_only=True) as session:
            return int(session.execute(sa.text(query), {"e": executor_id}).scalar() or 0)

    def _recovered_total(self) -> int:
        """Runs of workflows after the first (DBOS counts each start in recovery_attempts)."""
        table = self._workflow_table()
        query = f"SELECT coalesce(sum(recovery_attempts - 1), 0) FROM {table} WHERE recovery_attempts > 1"  # noqa: E501 - a fixed table name
        with self.db.session(read_only=True) as session:
            return int(session.execute(sa.text(query)).scalar() or 0)

    def _count_recoveries(self) -> None:
        self._credit_recoveries()
        per_point: dict[str, PointStats] = {p: PointStats() for p in self.config.points}
        for kill in self.kills:
            stats = per_point.setdefault(kill.point, PointStats())
            stats.kills += 1
            stats.jobs_in_flight += kill.jobs_in_flight
            stats.workflows_pending += kill.workflows_pending
            stats.workflows_recovered += kill.workflows_recovered
        self.result.kills = len(self.kills)
        self.result.points = per_point
        self.result.workflows_recovered = sum(k.workflows_recovered for k in self.kills)

    # --- the promises ------------------------------------------------------------------------

    def check(self) -> None:
        assert self.user is not None
        v: dict[str, list[str]] = {name: [] for name in INVARIANTS}
        with self.db.session(read_only=True) as session:
            jobs = list(session.scalars(sa.select(Job).where(Job.user_id == self.user.id)))
            entries = list(
                session.scalars(sa.select(CreditEntry).where(CreditEntry.user_id == self.user.id))
            )
            usage = list(
                session.scalars(sa.select(UsageEvent).where(UsageEvent.user_id == self.user.id))
            )
            balance = session.scalar(sa.select(User.credits).where(User.id == self.user.id))
        charges: dict[str, int] = {}
        refunds: dict[str, int] = {}
        for entry in entries:
            book = charges if entry.kind == "charge" else refunds if entry.kind == "refund" else {}
            book[str(entry.job_id)] = book.get(str(entry.job_id), 0) + 1
        events: dict[str, int] = {}
        for event in usage:
            events[event.job_id] = events.get(event.job_id, 0) + 1
        ledger = sum(entry.amount for entry in entries)
        if balance != ledger or (balance or 0) < 0:
            v["ledger_mismatch"].append(f"balance {balance} != ledger {ledger}")
        stored = self._stored_objects()
        referenced: set[str] = set()
        for job in jobs:
            terminal = job.status in TERMINAL
            if not terminal:
                v["not_terminal"].append(f"{job.id} {job.status}/{job.stage}")
            if charges.get(job.id, 0) != 1:
                v["charges_not_one"].append(f"{job.id} charges={charges.get(job.id, 0)}")
            wants_refund = 1 if job.status in ("failed", "canceled") else 0
            if refunds.get(job.id, 0) != wants_refund:
                v["refund_mismatch"].append(f"{job.id} {job.status} refunds={refunds.get(job.id)}")
            if terminal and events.get(job.id, 0) != 1:
                v["usage_events_not_one"].append(f"{job.id} events={events.get(job.id, 0)}")
            if job.status == "failed" and not (job.error_code or "").startswith("provider_"):
                v["failed_not_by_provider"].append(f"{job.id} {job.error_code}")
            if job.status == "completed":
                self._check_files(job, stored, v)
            referenced |= {p for p in (job.result_path, job.poster_path) if p}
        for key in sorted(set(stored) - referenced):
            v["files_without_job"].append(key)
        v["partial_files_left"] = self._partial_files()
        v["unexplained_orphan_tasks"] = self._orphans(jobs)
        self.result.jobs = len(jobs)
        self.result.completed = sum(j.status == "completed" for j in jobs)
        self.result.failed = sum(j.status == "failed" for j in jobs)
        self.result.canceled = sum(j.status == "canceled" for j in jobs)
        self.result.violations = v

    def _check_files(self, job: Job, stored: dict[str, int], v: dict[str, list[str]]) -> None:
        if job.result_path not in stored:
            v["completed_file_missing"].append(f"{job.id} {job.result_path}")
        elif stored[job.result_path] != job.result_size:
            v["completed_file_wrong_size"].append(
                f"{job.id} stored {stored[job.result_path]} recorded {job.result_size}"
            )
        if job.result_type == "video" and (not job.poster_path or job.poster_path not in stored):
            v["poster_missing"].append(f"{job.id} {job.poster_path}")
        placement = BY_ID.get(job.placement or "")
        size = (job.result_width or 0, job.result_height or 0)
        if placement is not None and not placement.matches(*size):
            v["placement_ratio_wrong"].append(f"{job.id} {job.placement} {size}")
        if job.result_path in stored and self._sha256(job.result_path) != job.result_sha256:
            v["result_sha256_wrong"].append(f"{job.id} recorded {job.result_sha256}")

    def _stored_objects(self) -> dict[str, int]:
        """Every whole result object: key -> size."""
        if self.moto is not None:
            client = self.moto.client()
            found: dict[str, int] = {}
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=self.moto.bucket, Prefix=f"{self.prefix}/results/"
            ):
                for item in page.get("Contents", []):
                    found[item["Key"].removeprefix(f"{self.prefix}/")] = int(item["Size"])
            return found
        root = self.data_dir / "files"
        return {
            str(path.relative_to(root)): path.stat().st_size
            for path in (root / "results").rglob("*")
            if path.is_file() and not path.name.endswith(".part")
        }

    def _sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        if self.moto is not None:
            body = self.moto.client().get_object(
                Bucket=self.moto.bucket, Key=f"{self.prefix}/{key}"
            )
            for chunk in body["Body"].iter_chunks():
                digest.update(chunk)
            return digest.hexdigest()
        with (self.data_dir / "files" / key).open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def _partial_files(self) -> list[str]:
        if self.moto is not None:
            return [f"multipart upload {key}" for key in self.moto.pending_uploads(self.prefix)]
        root = self.data_dir / "files"
        return [str(p.relative_to(root)) for p in root.rglob("*.part")]

    def _orphans(self, jobs: list[Job]) -> list[str]:
        """Provider tasks made for one of our jobs that are not the job's task.

        The one legitimate orphan: a createTask sent by a process killed before the task id was
        saved. The re-run's per-attempt claim then refuses to send again; if no callback adopts
        the task, the job is resubmitted (a new attempt) or ends failed/canceled without a task.
        So each orphan was created while a later-killed process lived, and a job has at most
        one orphan per uncertain attempt: its resubmissions, plus the last attempt when it
        ended without a task. Anything beyond that is a violation.
        """
        by_id = {job.id: job for job in jobs}
        unexplained: list[str] = []
        per_job: dict[str, int] = {}
        for task_id, callback_url, created_at in self._provider_tasks():
            owner = next((by_id[j] for j in _job_ids(callback_url) if j in by_id), None)
            if owner is None or owner.task_id == task_id:
                continue
            per_job[owner.id] = per_job.get(owner.id, 0) + 1
            # A request the dying process had sent may reach the emulator a little later.
            killed_while_sending = any(
                kill.started_at <= created_at <= kill.at + SEND_SLACK_S for kill in self.kills
            )
            if not killed_while_sending:
                unexplained.append(f"task {task_id} of job {owner.id}: no kill while it was sent")
        for job_id, count in per_job.items():
            job = by_id[job_id]
            allowed = job.submit_attempts + (1 if job.task_id is None else 0)
            if count > allowed:
                unexplained.append(
                    f"job {job_id} ({job.status}) has {count} orphan tasks for "
                    f"{job.submit_attempts} resubmissions"
                )
        self.result.orphan_tasks = sum(per_job.values())
        return unexplained

    def _provider_tasks(self) -> Iterator[tuple[str, str, float]]:
        """(task id, callback URL, created at) of every task, market and Veo."""
        for task_id, task in list(self.emulator.state.tasks.items()):
            yield task_id, task.callback_url or "", task.created_at
        for task_id, veo_task in list(veo_of(self.emulator.state).tasks.items()):
            yield task_id, str(veo_task.body.get("callBackUrl") or ""), veo_task.created_at


def _port_taken(log: Path) -> bool:
    """Did the process's last start fail to bind its port (uvicorn exits 3 after that)?"""
    with log.open("rb") as out:
        out.seek(max(0, log.stat().st_size - 4096))
        tail = out.read().decode(errors="replace")
    last_start = tail.rsplit("Started server process", 1)[-1]
    return "address already in use" in last_start


def _job_ids(callback_url: str) -> list[str]:
    marker = "/callbacks/kie/"
    if marker not in callback_url:
        return []
    return [callback_url.split(marker, 1)[1].split("/", 1)[0]]


@contextlib.contextmanager
def harness(config: ChaosConfig, tmp: Path) -> Iterator[Harness]:
    """Database, emulator, optional moto and the fork server for one chaos run."""
    padding = S3_PADDING if config.storage == "s3" else 0
    with (
        database_url(config.backend, tmp) as url,
        run_emulator(
            failure_rate=0.15,
            seed=int(random.Random(config.seed).random() * 1e6),
            image_duration_s=0.4,
            video_duration_s=0.8,
            callback_attempts=8,
            callback_backoff_s=0.3,
            result_padding_bytes=padding,
        ) as emulator,
        run_moto() if config.storage == "s3" else contextlib.nullcontext() as moto,
    ):
        upgrade(url)
        forks = ForkServer()
        h = Harness(config, url, tmp, emulator, moto, forks)
        try:
            yield h
        finally:
            for process in h.processes:
                if process.alive():
                    process.signal(9)
            forks.close()
            h.db.dispose()


def write_report(result: ChaosResult, path: str | os.PathLike[str] | None) -> None:
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(result.summary()) + "\n")
