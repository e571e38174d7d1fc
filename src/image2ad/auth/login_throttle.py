"""Failed logins slow down the guesser, never the owner.

Failures are counted per (account, client address) and per client address. Past a few free
failures each key must wait, doubling with every further failure up to a cap. An account is
never locked as such: its owner, from an address that has not been failing, logs in at once.
Counters live in this process's memory (like the API rate limiter), so N API processes allow
N times the free failures; the Argon2 cost of every guess still applies.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Key:
    failures: int = 0
    blocked_until: float = 0.0
    last_failure: float = 0.0


@dataclass(frozen=True)
class Rule:
    free: int
    base_s: float
    cap_s: float

    def wait_after(self, failures: int) -> float:
        over = failures - self.free
        return 0.0 if over < 0 else min(self.cap_s, self.base_s * 2.0**over)


class LoginThrottle:
    def __init__(
        self,
        *,
        per_account_address: Rule = Rule(free=5, base_s=1.0, cap_s=900.0),
        per_address: Rule = Rule(free=50, base_s=1.0, cap_s=900.0),
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = {"a": per_account_address, "c": per_address}
        self.max_keys = max_keys
        self._clock = clock
        self._keys: dict[tuple[str, ...], _Key] = {}
        self._lock = threading.Lock()

    def _names(self, email: str, address: str) -> list[tuple[str, ...]]:
        return [("a", email, address), ("c", address)]

    def retry_after(self, email: str, address: str) -> int | None:
        """Seconds to wait before this address may try this account again; None = try now."""
        now = self._clock()
        with self._lock:
            waits = [
                state.blocked_until - now
                for name in self._names(email, address)
                if (state := self._keys.get(name)) is not None and state.blocked_until > now
            ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, email: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._keys) >= self.max_keys:
                self._forget_quiet(now)
            for name in self._names(email, address):
                rule = self.rules[name[0]]
                state = self._keys.setdefault(name, _Key())
                if state.failures and now - state.last_failure > rule.cap_s:
                    state.failures = 0  # quiet for longer than the longest wait: start over
                state.failures += 1
                state.last_failure = now
                state.blocked_until = now + rule.wait_after(state.failures)

    def succeeded(self, email: str, address: str) -> None:
        with self._lock:
            self._keys.pop(("a", email, address), None)

    def _forget_quiet(self, now: float) -> None:
        """Drop keys whose wait is over and whose last failure is older than their cap."""
        for name, state in list(self._keys.items()):
            if state.blocked_until <= now and now - state.last_failure > self.rules[name[0]].cap_s:
                del self._keys[name]
        if len(self._keys) >= self.max_keys:
            # Under a flood of distinct keys, memory wins over memory of old failures.
            for name in sorted(self._keys, key=lambda n: self._keys[n].last_failure)[
                : len(self._keys) // 2
            ]:
                del self._keys[name]
