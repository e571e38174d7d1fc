"""Events a process counts as they happen, for GET /metrics (see metrics.py).

`serve` and `worker` write them to files in IMAGE2AD_METRICS_DIR (prometheus-client's
multiprocess mode), one file per executor id: a scrape of any process of the host sums them
all, and a restarted process resumes its own counts instead of leaving a second file behind.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, values

PACE_BUCKETS = (0.01, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)

log = logging.getLogger(__name__)
_local = CollectorRegistry(auto_describe=True)
_failed: set[str] = set()
_multiprocess_dir: Path | None = None


def enable_multiprocess(directory: Path, process_id: str) -> None:
    """Write this process's counted metrics to `directory` under `process_id` (its executor id).

    Call before the first metric is counted; later calls are ignored.
    """
    global _multiprocess_dir
    if _multiprocess_dir is not None or _events.cache_info().currsize:
        return
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]", "_", process_id)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.MultiProcessValue(process_identifier=lambda: name)  # type: ignore[no-untyped-call]
    _multiprocess_dir = directory


class _Events:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.provider_requests = Counter(
            "image2ad_provider_requests",
            "Requests to Kie by operation and outcome (every attempt, retries included).",
            ["operation", "outcome"],
            registry=registry,
        )
        self.pace_wait = Histogram(
            "image2ad_provider_pace_wait_seconds",
            "Seconds a createTask send waited for its turn at the shared send gate.",
            buckets=PACE_BUCKETS,
            registry=registry,
        )


@functools.cache
def _events() -> _Events:
    return _Events(_local)


def provider_request(operation: str, outcome: str) -> None:
    with _never_failing("provider_requests"):
        _events().provider_requests.labels(operation, outcome).inc()


def pace_waited(seconds: float) -> None:
    with _never_failing("pace_wait"):
        _events().pace_wait.observe(max(0.0, seconds))


@contextlib.contextmanager
def _never_failing(metric: str) -> Iterator[None]:
    """Counting is called inside provider calls and the send gate: a metrics file that cannot
    be written (disk full, a damaged file) loses the count, never the call it counts."""
    try:
        yield
    except Exception:
        if metric not in _failed:
            _failed.add(metric)
            log.exception("metric %s could not be recorded; further failures are silent", metric)


def multiprocess_dir() -> Path | None:
    return _multiprocess_dir


def local_registry() -> CollectorRegistry:
    """This process's own counts (used when no metrics directory is enabled)."""
    return _local
