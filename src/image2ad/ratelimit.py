"""Request rate limits per user, answering 429 with Retry-After (reliability-plan.md S14).

Counters live in this process's memory (`limits`' moving window); with N API processes a user
gets at most N times the limit, which still stops floods. The provider's own limits are held
globally by the durable queue and providers/kie/send_gate.py, not here.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies

from image2ad.errors import RateLimited


class RateLimiter:
    def __init__(self) -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def hit(self, rule: str, *keys: str, message: str = "Too many requests.") -> None:
        """Count one request against `rule` (e.g. "60/minute") for `keys`; 429 when over."""
        item: RateLimitItem = parse(rule)
        if self._limiter.hit(item, *keys):
            return
        reset = self._limiter.get_window_stats(item, *keys).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        raise RateLimited(
            f"{message} Try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
