"""Garbage-collector housekeeping for the long-running processes (serve, worker)."""

from __future__ import annotations

import gc

# Full collections only after this many second-generation ones (Python's default: 10).
FULL_COLLECTION_EVERY = 100


def freeze_startup_objects() -> None:
    """Put everything alive after start-up out of the cyclic collector's reach.

    A started server holds ~180k long-lived objects (FastAPI, SQLAlchemy, DBOS, pydantic). Each
    full collection walked all of them: under 300 status reads/s that was a ~110 ms pause of
    every thread, several times per 10 s, and much of the p99 (docs/benchmarks.md, "HTTP
    load"). These objects live as long as the process, so nothing is lost by never scanning
    them. Only for processes that start once: tests building many apps must not call it.

    Full collections are also made rarer. Under load, objects of requests in flight outlive the
    young collections and count towards the next full one, though reference counting frees
    nearly all of them soon after (a full collection found 0 to ~1,800 unreachable objects):
    with the default thresholds an embedded server under 80 status reads/s ran a full
    collection every ~7 s, each walking the ~60k objects made since start-up (36-53 ms of CPU
    on a loaded 2-core machine; `bench.load`). Young cyclic garbage is collected as before;
    garbage that reaches the oldest generation waits up to ten times longer.
    """
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
