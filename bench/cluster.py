"""A scale-out image2ad on loopback: emulator, 2 API processes and 3 workers on a fresh database.

    .venv/bin/python -m bench.cluster [--shape pg|sqlite] [--jobs 40] [--hold]

`pg` (the default) starts the standalone Kie emulator, runs `image2ad db upgrade` on a new
PostgreSQL database, creates users and API keys, then starts `image2ad serve --no-worker` twice
and `image2ad worker` three times, each with its own IMAGE2AD_EXECUTOR_ID. `sqlite` is the
embedded shape: one `image2ad serve` (web + API + worker) on a SQLite file, against the same
standalone emulator. The smoke workload submits --jobs jobs and waits for them; --hold keeps
everything up until Ctrl-C. Benchmarks use `Cluster` as a context manager.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

from image2ad.auth import service as auth
from image2ad.credits import service as credits
from image2ad.db import Database
from image2ad.models import Job

PG_ADMIN_DSN = os.environ.get("IMAGE2AD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
KIE_KEY = "bench-kie-key"
# Only this loopback cluster's driver steers its emulator.
EMULATOR_ADMIN_KEY = secrets.token_urlsafe(16)
RUNS = Path(tempfile.gettempdir()) / "image2ad-bench"
# Five interpreters importing the app at once take a while on 2 busy cores.
START_TIMEOUT_S = 180
# Realistic generation times (kie-api.md §8: images ~15 s, Sora minutes) and Kie's own limits.
EMULATOR_DEFAULTS: dict[str, Any] = {
    "image_duration_s": 15.0,
    "video_duration_s": 120.0,
    "create_limit": 20,
    "create_period_s": 10.0,
    "query_limit": 10,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {timeout:g} s")
        time.sleep(interval)


class Process:
    """One child process with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT
            )

    def check_alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
        return True

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class BenchUser:
    id: str
    email: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Cluster:
    """Start with `with Cluster(...) as cluster:`; everything is torn down on exit."""

    shape: str = "pg"
    apis: int = 2
    workers: int = 3
    emulator: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    users: int = 50
    credits_each: int = 10_000
    keep_logs: bool = True

    def __post_init__(self) -> None:
        if self.shape == "sqlite":
            self.apis, self.workers = 1, 0
        self.emulator_settings = {**EMULATOR_DEFAULTS, **self.emulator}
        self.run_dir = RUNS / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.processes: dict[str, Process] = {}
        self.api_urls: list[str] = []
        self.bench_users: list[BenchUser] = []
        self._pg_name: str | None = None
        self.db: Database | None = None
        self.secret_key = "bench-" + secrets.token_hex(16)

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.run_dir.mkdir(parents=True)
        self.database_url = self._create_database()
        self._start_emulator()
        self._migrate()
        self.db = Database(self.database_url)
        self._create_users()
        ports = [free_port() for _ in range(self.apis)]
        self.api_urls = [f"http://127.0.0.1:{port}" for port in ports]
        for index, port in enumerate(ports, 1):
            argv = ["serve", "--port", str(port)]
            if self.shape == "pg":
                argv.append("--no-worker")
            name = f"api-{index}" if self.shape == "pg" else "embedded"
            self._spawn(name, argv, {"IMAGE2AD_PUBLIC_URL": self.api_urls[index - 1]})
        for index in range(1, self.workers + 1):
            # Kie calls back the URL a job was submitted with: spread jobs over the APIs (a load
            # balancer's job in production, where IMAGE2AD_PUBLIC_URL is the one public name).
            public = self.api_urls[(index - 1) % self.apis]
            self._spawn(f"worker-{index}", ["worker"], {"IMAGE2AD_PUBLIC_URL": public})
        for url in self.api_urls:
            wait_for(lambda url=url: self._healthy(url), START_TIMEOUT_S, url)
        expected = {n for n in self.processes if n.startswith("worker") or n == "embedded"}
        wait_for(lambda: expected <= self.heartbeats(), START_TIMEOUT_S, "workers")

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        if self.db is not None:
            self.db.dispose()
        if self._pg_name is not None:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
            self._pg_name = None
        if not self.keep_logs:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _create_database(self) -> str:
        if self.shape == "sqlite":
            return f"sqlite:///{self.run_dir / 'image2ad.sqlite'}"
        self._pg_name = f"image2ad_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self._pg_name}"')
        return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{self._pg_name}"

    def _start_emulator(self) -> None:
        port = free_port()
        self.emulator_url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "bench.emulator", "--port", str(port)]
        # One argument: a random key may begin with "-", which argparse would read as an option.
        argv += [f"--admin-key={EMULATOR_ADMIN_KEY}"]
        argv += ["--settings", json.dumps(self.emulator_settings)]
        process = Process("emulator", argv, {}, self.run_dir / "emulator.log")
        self.processes["emulator"] = process
        process.start()
        wait_for(lambda: process.check_alive() and self._emulator_up(), 30, "emulator")

    def base_env(self) -> dict[str, str]:
        """What every image2ad process of this cluster shares."""
        emu = self.emulator_settings
        return {
            "IMAGE2AD_DATA_DIR": str(self.run_dir),
            "IMAGE2AD_DATABASE_URL": self.database_url,
            "IMAGE2AD_STORAGE_URL": (self.run_dir / "files").as_uri(),
            "IMAGE2AD_SECRET_KEY": self.secret_key,
            "IMAGE2AD_APP_VERSION": "bench-1",
            "IMAGE2AD_LOG_LEVEL": "WARNING",
            # Per-user API limits would throttle the load generator, not the service.
            "IMAGE2AD_API_RATE_LIMIT": "1000000/minute",
            "IMAGE2AD_JOB_RATE_LIMIT": "1000000/minute",
            "IMAGE2AD_MAX_ACTIVE_JOBS": "100000",
            "KIE_API_KEY": KIE_KEY,
            "KIE_BASE_URL": self.emulator_url,
            "KIE_UPLOAD_BASE_URL": self.emulator_url,
            "KIE_CREATE_LIMIT": str(emu["create_limit"]),
            "KIE_CREATE_PERIOD_S": str(emu["create_period_s"]),
            "KIE_QUERY_LIMIT": str(emu["query_limit"]),
            "IMAGE2AD_DOWNLOAD_HTTP_ORIGINS": self.emulator_url,
            **self.env,
        }

    def _migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "image2ad", "db", "upgrade"],
            env={**os.environ, **self.base_env()},
            check=True,
            capture_output=True,
        )

    def _create_users(self) -> None:
        # The service layer directly: `image2ad users create` + `api-keys create` per user would
        # cost two interpreter start-ups each.
        assert self.db is not None
        with self.db.session() as session:
            for n in range(self.users):
                user = auth.create_user(session, f"bench{n}@example.com")
                credits.grant(session, user.id, self.credits_each, note="bench")
                key = auth.create_api_key(session, user, "bench")
                self.bench_users.append(BenchUser(user.id, user.email, key.plaintext))

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        full_env = {**self.base_env(), "IMAGE2AD_EXECUTOR_ID": name, **env}
        process = Process(
            name, [sys.executable, "-m", "image2ad", *argv], full_env, self.run_dir / f"{name}.log"
        )
        self.processes[name] = process
        process.start()

    def _healthy(self, url: str) -> bool:
        for process in self.processes.values():
            process.check_alive()
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _emulator_up(self) -> bool:
        try:
            return self.knobs() is not None
        except httpx.HTTPError:
            return False

    # --- observing ---------------------------------------------------------------------------

    def heartbeats(self) -> set[str]:
        for process in self.processes.values():
            process.check_alive()
        assert self.db is not None
        with self.db.session(read_only=True) as session:
            rows = session.execute(sa.text("SELECT executor_id FROM worker_heartbeats"))
            return {row[0] for row in rows}

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def emulator_client(self, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {EMULATOR_ADMIN_KEY}"}
        return httpx.Client(base_url=self.emulator_url, headers=headers, timeout=timeout)

    def knobs(self, **changes: Any) -> dict[str, Any]:
        """Read (and with arguments, change) the emulator's knobs; includes `calls`."""
        with self.emulator_client(5) as client:
            if changes:
                reply = client.post("/_admin/knobs", json=changes)
            else:
                reply = client.get("/_admin/knobs")
            return dict(reply.raise_for_status().json()["data"])

    def calls(self) -> Counter[str]:
        return Counter(self.knobs()["calls"])

    def emulator_tasks(self) -> dict[str, dict[str, Any]]:
        with self.emulator_client(120) as client:
            records = client.get("/_admin/tasks").raise_for_status().json()["data"]
        return {record["taskId"]: record for record in records}

    def jobs(self, ids: list[str]) -> list[Job]:
        assert self.db is not None
        found: list[Job] = []
        with self.db.session(read_only=True) as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                found.extend(session.scalars(sa.select(Job).where(Job.id.in_(chunk))))
        return found

    def status_counts(self, ids: list[str]) -> Counter[str]:
        return Counter(job.status for job in self.jobs(ids))

    def wait_finished(self, ids: list[str], timeout: float, interval: float = 0.5) -> list[Job]:
        """Block until every job is completed/failed/canceled; returns the jobs."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs(ids)
            if all(job.status in ("completed", "failed", "canceled") for job in jobs):
                return jobs
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"jobs unfinished after {timeout:g} s: {self.status_counts(ids)}"
                )
            for process in self.processes.values():
                process.check_alive()
            time.sleep(interval)


async def submit_jobs(
    cluster: Cluster,
    count: int,
    *,
    concurrency: int = 50,
    rate: float | None = None,
    job_type: str = "text-to-image",
    models: list[str] | None = None,
) -> list[tuple[str, float]]:
    """POST `count` jobs round-robin over users and API processes; returns (job id, accepted at).

    With `rate`, jobs are sent open-loop at that many per second; else as fast as `concurrency`
    clients go. With `models`, job n runs on models[n % len(models)]; else on the type's default.
    """
    targets = itertools.cycle(itertools.product(cluster.bench_users, cluster.api_urls))
    model_cycle = itertools.cycle(models or [None])
    accepted: list[tuple[str, float]] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(n: int, user: BenchUser, url: str, model: str | None) -> None:
            body = {"type": job_type, "prompt": f"bench ad {n}"}
            if model:
                body["model"] = model
            async with gate:
                reply = await client.post(f"{url}/api/v1/jobs", json=body, headers=user.headers)
            if reply.status_code != 202:
                raise RuntimeError(f"job {n} ({model}): {reply.status_code} {reply.text[:200]}")
            accepted.append((reply.json()["id"], time.time()))

        started = time.monotonic()
        tasks = []
        for n in range(count):
            if rate:
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            user, url = next(targets)
            tasks.append(asyncio.create_task(one(n, user, url, next(model_cycle))))
        await asyncio.gather(*tasks)
    return accepted


def epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--image-seconds", type=float, default=5.0)
    parser.add_argument("--hold", action="store_true", help="keep running until Ctrl-C")
    args = parser.parse_args()
    with Cluster(shape=args.shape, emulator={"image_duration_s": args.image_seconds}) as cluster:
        print(f"emulator {cluster.emulator_url}; APIs {cluster.api_urls}; logs {cluster.run_dir}")
        started = time.monotonic()
        accepted = asyncio.run(submit_jobs(cluster, args.jobs))
        jobs = cluster.wait_finished([job_id for job_id, _ in accepted], timeout=300)
        summary = {
            "shape": args.shape,
            "jobs": len(jobs),
            "statuses": dict(Counter(job.status for job in jobs)),
            "seconds": round(time.monotonic() - started, 1),
            "emulator_calls": dict(cluster.calls()),
            "processes": {name: p.pid for name, p in cluster.processes.items()},
        }
        print(json.dumps(summary, indent=2))
        if args.hold:
            print("holding; Ctrl-C to stop")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
