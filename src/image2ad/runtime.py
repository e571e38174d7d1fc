"""Everything a process builds once at start-up and shares: settings, database, storage, clients.

DBOS workflows are module-level functions, so they reach these through `current()`.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

from image2ad.catalog import Catalog
from image2ad.config import EMULATOR_MOUNT, Settings
from image2ad.db import Database
from image2ad.jobs import queueing
from image2ad.links import LinkSigner
from image2ad.net.safe_fetch import FetchPolicy
from image2ad.net.urls import Allowlist
from image2ad.providers.base import TaskApi
from image2ad.providers.kie import KieClient, send_gate
from image2ad.providers.kie.veo import VeoApi
from image2ad.ratelimit import RateLimiter
from image2ad.secret_key import signing_key
from image2ad.storage.base import Storage
from image2ad.storage.factory import storage_from_url

KIE_CDN_HOSTS = frozenset(
    {"tempfile.aiquickdraw.com", "tempfileb.aiquickdraw.com", "tempfile.redpandaai.co"}
)


def default_executor_id(role: str) -> str:
    """A process's executor id when IMAGE2AD_EXECUTOR_ID is unset."""
    return f"{socket.gethostname()}-{role}"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    catalog: Catalog
    signer: LinkSigner
    role: str = "serve"
    limiter: RateLimiter = field(default_factory=RateLimiter)
    _clients: dict[int, tuple[asyncio.AbstractEventLoop, KieClient]] = field(default_factory=dict)
    _limiters: dict[tuple[int, str], AsyncLimiter] = field(default_factory=dict)
    live_workers: int = 1
    emulator_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    """The built-in emulator's API key: made at each start, known only to this process."""
    # Signs session cookies and result links (image2ad/secret_key.py); never logged.
    secret_key: str = field(default="", repr=False)

    @classmethod
    def build(cls, settings: Settings, role: str = "serve") -> Runtime:
        key = signing_key(settings)
        return cls(
            settings=settings,
            db=Database(
                settings.resolved_database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
            ),
            storage=storage_from_url(settings.resolved_storage_url, settings.storage),
            catalog=Catalog.load(settings.catalog_file),
            signer=LinkSigner(key, settings.result_link_ttl_s),
            role=role,
            secret_key=key,
        )

    @property
    def local_url(self) -> str:
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - mapping a wildcard bind to loopback
            host = "127.0.0.1"
        return f"http://{host}:{self.settings.port}"

    @property
    def kie_base_url(self) -> str:
        if self.settings.uses_emulator:
            return self.local_url + EMULATOR_MOUNT
        return self.settings.kie.base_url.rstrip("/")

    @property
    def kie_upload_base_url(self) -> str:
        if self.settings.uses_emulator:
            return self.local_url + EMULATOR_MOUNT
        return self.settings.kie.upload_base_url.rstrip("/")

    @property
    def kie_api_key(self) -> str:
        return self.settings.kie.api_key or self.emulator_key

    def kie(self) -> KieClient:
        """The Kie client for the running event loop (httpx pools are bound to one loop)."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(id(loop))
        # The loop is kept in the entry, so its id cannot be reused while the entry lives.
        if entry is None or entry[0] is not loop:
            client = KieClient(
                self.kie_api_key,
                self.kie_base_url,
                self.kie_upload_base_url,
                timeout_s=self.settings.kie.timeout_s,
            )
            entry = self._clients[id(loop)] = (loop, client)
        return entry[1]

    def task_api(self, api: str = "market") -> TaskApi:
        """The adapter for a model's Kie API family (catalog `api`): the market's createTask
        and recordInfo, or Veo 3.1's own endpoints, on the same client."""
        client = self.kie()
        return VeoApi(client) if api == "veo" else client

    def api_of(self, job_type: str, model: str) -> str:
        spec = self.catalog.find(job_type, model)
        return spec.api if spec is not None else "market"

    def poll_schedule(self) -> list[float]:
        jobs = self.settings.jobs
        return jobs.callback_poll_schedule_s if self.callbacks_enabled else jobs.poll_schedule_s

    @property
    def callback_query_rate(self) -> float:
        """recordInfo calls per second kept for callback confirmations.

        Kie calls back at most as fast as it accepts new tasks, so its create rate bounds them.
        """
        kie = self.settings.kie
        return min(kie.query_limit / 2, kie.create_limit / kie.create_period_s)

    def create_gate(self) -> send_gate.Gate:
        """The global createTask pace (providers/kie/send_gate.py)."""
        kie = self.settings.kie
        return send_gate.Gate(
            send_gate.CREATE, send_gate.spacing(kie.create_limit, kie.create_period_s)
        )

    def send_queue(self) -> queueing.SendQueue:
        return queueing.SendQueue(self.create_gate(), self.settings.jobs.fair_share)

    async def create_slot(self) -> None:
        """Wait for this send's turn in the global createTask pace."""
        gate = self.create_gate()
        await send_gate.wait_turn(self.db, gate.name, gate.gap)

    def poll_query_rate(self) -> float:
        """This worker's share of the recordInfo budget left for polls."""
        spare = self.settings.kie.query_limit - self.callback_query_rate
        return max(0.5, spare / max(1, self.live_workers))

    def query_limiter(self, purpose: str = "poll") -> AsyncLimiter:
        """Spends Kie's recordInfo budget (per key per second): polls share what callback
        confirmations leave, divided between the live workers."""
        loop_id = id(asyncio.get_running_loop())
        rate = self.poll_query_rate() if purpose == "poll" else self.callback_query_rate
        key = (loop_id, purpose)
        limiter = self._limiters.get(key)
        if limiter is None or limiter.max_rate != rate:
            limiter = AsyncLimiter(rate, 1.0)
            self._limiters[key] = limiter
        return limiter

    @property
    def callbacks_enabled(self) -> bool:
        # Kie could not reach a default loopback URL; then polling is all we have.
        return self.settings.uses_emulator or bool(self.settings.public_url)

    @property
    def callback_prefix(self) -> str:
        return f"{self.settings.resolved_public_url}/api/v1/callbacks/kie/"

    def callback_url(self, job_id: str, secret: str) -> str | None:
        """Where Kie should POST when the task ends; None when Kie could not reach us."""
        if not self.callbacks_enabled:
            return None
        return f"{self.callback_prefix}{job_id}/{secret}"

    def download_hosts(self) -> frozenset[str]:
        return KIE_CDN_HOSTS | frozenset(self.settings.download.hosts)

    def download_policy(self) -> FetchPolicy:
        """Result downloads: allowlisted https hosts, plus our own emulator's origin over http."""
        download = self.settings.download
        http_origins = list(download.http_origins)
        if self.settings.uses_emulator:
            http_origins.append(self.local_url)
        return FetchPolicy(
            Allowlist.build(self.download_hosts(), http_origins),
            max_bytes=self.settings.max_result_bytes,
            timeout_s=download.timeout_s,
            connect_timeout_s=download.connect_timeout_s,
            min_rate=download.min_rate,
            rate_window_s=download.rate_window_s,
        )

    def executor_id(self) -> str:
        return self.settings.executor_id or default_executor_id(self.role)

    async def aclose(self) -> None:
        """Close every loop's client, each on its own loop (DBOS runs workflows on another)."""
        here = asyncio.get_running_loop()
        for loop, client in list(self._clients.values()):
            if loop is here:
                await client.aclose()
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                await asyncio.wrap_future(future)
        self._clients.clear()


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("image2ad runtime is not started")
    return _current
