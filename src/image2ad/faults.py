"""Crash points for the chaos tests (reliability-plan.md, R1).

`IMAGE2AD_FAULT` chooses when this process kills itself with SIGKILL:

- `P4:3`: the 3rd time it reaches crash point P4;
- `random:SEED:PROB` or `random:SEED:PROB:P1,P4,D1`: at each hit of a listed point (any point
  when none are listed) with probability PROB. The draw for the n-th hit of a point depends only
  on (SEED, point, n), so a kill logged as point P4, hit 7 replays with `IMAGE2AD_FAULT=P4:7`.

`IMAGE2AD_FAULT_LOG` names a file that gets one JSON line per kill, written and fsynced before
the signal. Unset (always, outside the chaos tests) crash points do nothing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

_hits: Counter[str] = Counter()
_lock = threading.Lock()


@dataclass(frozen=True)
class Schedule:
    seed: str | None
    probability: float
    points: frozenset[str] | None
    nth: int = 0

    def fires(self, point: str, hit: int) -> bool:
        if self.points is not None and point not in self.points:
            return False
        if self.seed is None:
            return hit == self.nth
        draw = random.Random(f"{self.seed}/{point}/{hit}").random()  # noqa: S311 - a test schedule
        return draw < self.probability


@lru_cache(maxsize=4)
def parse(spec: str) -> Schedule | None:
    if not spec:
        return None
    if spec.startswith("random:"):
        _, seed, probability, *listed = spec.split(":", 3)
        points = frozenset(p for p in listed[0].split(",") if p) if listed else None
        return Schedule(seed, float(probability), points or None)
    point, _, nth = spec.partition(":")
    return Schedule(None, 1.0, frozenset([point]), int(nth or "1"))


def crash_point(point: str) -> None:
    schedule = parse(os.environ.get("IMAGE2AD_FAULT", ""))
    if schedule is None or (schedule.points is not None and point not in schedule.points):
        return
    with _lock:
        _hits[point] += 1
        hit = _hits[point]
    if schedule.fires(point, hit):
        _log_kill(point, hit, schedule)
        os.kill(os.getpid(), signal.SIGKILL)


def _log_kill(point: str, hit: int, schedule: Schedule) -> None:
    path = os.environ.get("IMAGE2AD_FAULT_LOG")
    if not path:
        return
    line = {
        "point": point,
        "hit": hit,
        "seed": schedule.seed,
        "pid": os.getpid(),
        "at": time.time(),
    }

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
