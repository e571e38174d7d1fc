"""Crash points for the chaos tests (reliability-plan.md, R1).

`IMAGE2AD_FAULT=P4:3` kills this process with SIGKILL the 3rd time it reaches crash point P4.
Unset (always, outside the chaos tests) it does nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def _target() -> tuple[str, int] | None:
    spec = os.environ.get("IMAGE2AD_FAULT", "")
    point, _, nth = spec.partition(":")
    if not point:
        return None
    return point, int(nth or "1")


def crash_point(point: str) -> None:
    target = _target()
    if target is None or target[0] != point:
        return
    with _lock:
        _hits[point] += 1
        reached = _hits[point] >= target[1]
    if reached:
        os.kill(os.getpid(), signal.SIGKILL)
