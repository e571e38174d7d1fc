"""Garbage-collector housekeeping for the long-running processes (serve, worker)."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Put everything alive after start-up out of the cyclic collector's reach.

    A started server holds ~180k long-lived objects (FastAPI, SQLAlchemy, DBOS, pydantic). Each
    full collection walked all of them: under 300 status reads/s that was a ~110 ms pause of
    every thread, several times per 10 s, and much of the p99 (docs/benchmarks.md, "HTTP
    load"). These objects live as long as the process, so nothing is lost by never scanning
    them. Only for processes that start once: tests building many apps must not call it.
    """
    gc.collect()
    gc.freeze()
