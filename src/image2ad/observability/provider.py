"""The provider section of /readyz: is the Kie key accepted, and what balance is left.

Probes hit Kie's `GET /api/v1/chat/credit` at most once a minute per process, whatever the
probe rate. A Kie outage is reported, not made a readiness failure: jobs wait durably for Kie
to come back, while sign-in, the library and downloads keep working, so taking the API out of
the load balancer would only add an outage of our own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from image2ad.providers.errors import ProviderAuthError, ProviderError
from image2ad.providers.kie.client import KieClient
from image2ad.runtime import Runtime

CACHE_S = 60.0
# A probe has its own short budget and no retries: readiness probes time out after seconds.
TIMEOUT_S = 5.0


class ProviderCheck:
    def __init__(
        self, cache_s: float = CACHE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cache_s = cache_s
        self._clock = clock
        self._result: dict[str, Any] | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()

    async def status(self, rt: Runtime) -> dict[str, Any]:
        """The last probe's answer, probing again once it is older than `cache_s`."""
        async with self._lock:
            now = self._clock()
            if self._result is None or now - self._checked >= self.cache_s:
                self._result = await _probe(rt)
                self._checked = now
            return {**self._result, "age_s": round(now - self._checked, 1)}


async def _probe(rt: Runtime) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": "emulator" if rt.settings.uses_emulator else "kie",
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    client = KieClient(
        rt.kie_api_key,
        rt.kie_base_url,
        rt.kie_upload_base_url,
        timeout_s=TIMEOUT_S,
        max_retries=0,
    )
    try:
        async with asyncio.timeout(TIMEOUT_S * 2):
            balance = await client.credit()
    except ProviderAuthError:
        return result | {
            "status": "error",
            "key_valid": False,
            "credits": None,
            "error": "the API key was refused",
        }
    except (ProviderError, TimeoutError) as exc:
        return result | {
            "status": "unavailable",
            "key_valid": None,
            "credits": None,
            "error": type(exc).__name__,
        }
    finally:
        await client.aclose()
    return result | {"status": "ok", "key_valid": True, "credits": balance}
