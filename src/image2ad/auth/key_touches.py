"""API-key last-use times, written off the request path.

Writing `last_used_at` inside the request cost a write transaction per key per minute. On
SQLite that transaction waits for the one write lock, which the job pipeline holds often,
and it keeps a pooled connection meanwhile: when every key of a busy client went stale in the
same second, the reads queued behind them for connections (bench.load, docs/benchmarks.md,
"HTTP load"). One background thread now writes the due times, all keys in one transaction.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from image2ad.auth import repository
from image2ad.db import Database

log = logging.getLogger(__name__)

_writer = ThreadPoolExecutor(1, thread_name_prefix="api-key-touch")
_lock = threading.Lock()
_due: dict[tuple[Database, str], datetime] = {}
_flushing = False


def record(db: Database, key_id: str, when: datetime) -> None:
    """Have `key_id`'s last use written as `when`, soon; returns at once."""
    global _flushing
    with _lock:
        if (db, key_id) in _due:
            return
        _due[(db, key_id)] = when
        if _flushing:
            return
        _flushing = True
    _writer.submit(_flush)


def wait_written(timeout: float = 10.0) -> None:
    """Block until the times recorded so far are written (tests, shutdown)."""
    _writer.submit(lambda: None).result(timeout)


def _flush() -> None:
    global _flushing
    while True:
        with _lock:
            batch = dict(_due)
            if not batch:
                _flushing = False
                return
        by_db: dict[Database, list[tuple[str, datetime]]] = {}
        for (db, key_id), when in batch.items():
            by_db.setdefault(db, []).append((key_id, when))
        for db, touches in by_db.items():
            try:
                with db.session() as session:
                    for key_id, when in touches:
                        repository.touch_key(session, key_id, when)
            except Exception:
                # Only a "last used" time: a failed write is retried at the key's next use.
                log.warning("could not record API key use", exc_info=True)
        with _lock:
            for item in batch:
                _due.pop(item, None)
