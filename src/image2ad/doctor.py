"""`image2ad doctor`: check what a setup needs, and say how to fix what is wrong.

Each check gives one finding: ok, warn (works, but not as well as it could) or fail (image2ad
will not work). Checks never change anything, except a probe file in the data dir.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlparse

import httpx

from image2ad import sqlite
from image2ad.config import Settings
from image2ad.db import is_sqlite

SUPPORTED_PYTHON = ((3, 11), (3, 13))


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.level.value:<4}  {self.check}: {self.detail}"
        return f"{text} — fix: {self.fix}" if self.fix else text


Check = Callable[[Settings], Coroutine[Any, Any, Finding]]


async def python_version(_settings: Settings) -> Finding:
    version = sys.version_info[:2]
    shown = ".".join(map(str, sys.version_info[:3]))
    if SUPPORTED_PYTHON[0] <= version <= SUPPORTED_PYTHON[1]:
        return Finding(Level.OK, "python", shown)
    return Finding(
        Level.FAIL,
        "python",
        f"{shown} is not supported",
        "use Python 3.11, 3.12 or 3.13 (make PYTHON=/path/to/python3.x)",
    )


async def sqlite_library(settings: Settings) -> Finding:
    try:
        described = sqlite.describe()
    except sqlite.SQLiteTooOld as exc:
        level = Level.FAIL if is_sqlite(settings.resolved_database_url) else Level.WARN
        return Finding(level, "sqlite", exc.problem, exc.fix)
    return Finding(Level.OK, "sqlite", described)


async def data_dir(settings: Settings) -> Finding:
    path = settings.data_dir.resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".doctor-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return Finding(
            Level.FAIL,
            "data dir",
            f"{path} is not writable ({exc.strerror or exc})",
            "set IMAGE2AD_DATA_DIR to a folder this user can write",
        )
    return Finding(Level.OK, "data dir", str(path))


async def database(settings: Settings) -> Finding:
    from image2ad.migrate import current_revision, head_revision

    url = settings.resolved_database_url
    shown = _hide_password(url)
    try:
        current = await asyncio.to_thread(current_revision, url)
    except sqlite.SQLiteTooOld:
        return Finding(Level.FAIL, "database", f"{shown}: no usable SQLite (see sqlite above)")
    except Exception as exc:
        return Finding(
            Level.FAIL,
            "database",
            f"{shown} is not reachable ({_first_line(exc)})",
            "check IMAGE2AD_DATABASE_URL and that the server is up",
        )
    head = head_revision()
    if current != head:
        return Finding(
            Level.FAIL,
            "database",
            f"{shown} is at revision {current or 'none (empty)'}, this code needs {head}",
            "run `image2ad db upgrade`",
        )
    return Finding(Level.OK, "database", f"{shown}, schema at {head}")


async def storage(settings: Settings) -> Finding:
    from image2ad.storage.factory import storage_from_url

    url = settings.resolved_storage_url
    try:
        store = storage_from_url(url, settings.storage)
        await store.check()
    except Exception as exc:
        return Finding(
            Level.FAIL,
            "storage",
            f"{url} is not reachable ({_first_line(exc)})",
            "check IMAGE2AD_STORAGE_URL and the IMAGE2AD_S3_* settings (docs/storage.md)",
        )
    return Finding(Level.OK, "storage", url)


async def kie(settings: Settings) -> Finding:
    from image2ad.providers.errors import ProviderError
    from image2ad.providers.kie import KieClient

    if settings.uses_emulator:
        return Finding(
            Level.OK,
            "kie",
            "no KIE_API_KEY: the built-in emulator makes placeholder images and videos",
        )
    assert settings.kie.api_key is not None
    client = KieClient(
        settings.kie.api_key,
        settings.kie.base_url,
        settings.kie.upload_base_url,
        timeout_s=10,
        max_retries=1,
    )
    try:
        balance = await client.credit()
    except ProviderError as exc:
        return Finding(
            Level.FAIL,
            "kie",
            f"{settings.kie.base_url} refused the key or is unreachable ({exc.message})",
            "check KIE_API_KEY and KIE_BASE_URL",
        )
    finally:
        await client.aclose()
    if balance <= 0:
        return Finding(Level.FAIL, "kie", "the Kie account has no credits left", "top up at kie.ai")
    return Finding(Level.OK, "kie", f"key accepted, {balance:g} Kie credits")


async def public_url(settings: Settings) -> Finding:
    url = settings.resolved_public_url
    host = urlparse(url).hostname or ""
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if settings.uses_emulator:
        return Finding(Level.OK, "callbacks", f"{url} (the built-in emulator calls it in-process)")
    if loopback:
        return Finding(
            Level.WARN,
            "callbacks",
            f"{url} is a loopback address Kie cannot call; jobs finish by polling (slower)",
            "set IMAGE2AD_PUBLIC_URL to an address Kie can reach (HTTPS)",
        )
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"{url}/healthz")
        reachable = response.status_code == 200
    except httpx.HTTPError:
        reachable = False
    if not reachable:
        return Finding(
            Level.WARN,
            "callbacks",
            f"{url}/healthz does not answer from here (fine before the server starts)",
            "make sure IMAGE2AD_PUBLIC_URL reaches this server from the internet",
        )
    return Finding(Level.OK, "callbacks", f"{url} answers")


async def chromium(_settings: Settings) -> Finding:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Finding(Level.OK, "chromium", f"{found} (for the browser tests)")
    return Finding(
        Level.WARN,
        "chromium",
        "not found; only the browser tests need it",
        "apt-get install -y chromium",
    )


CHECKS: list[Check] = [
    python_version,
    sqlite_library,
    data_dir,
    database,
    storage,
    kie,
    public_url,
    chromium,
]


# Before the server starts, its own URL cannot answer yet and the test browser is irrelevant.
BEFORE_SERVE: list[Check] = [c for c in CHECKS if c not in (public_url, chromium)]


async def run(settings: Settings, checks: list[Check] = CHECKS) -> list[Finding]:
    return [await check(settings) for check in checks]


def _first_line(exc: Exception, limit: int = 160) -> str:
    text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _hide_password(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)
