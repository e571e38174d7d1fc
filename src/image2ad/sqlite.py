"""Which SQLite library the embedded shape opens (docs/adr/0008-sqlite-library.md).

Python brings the SQLite it was built with, often years old (Debian 12: 3.40, Ubuntu 22.04:
3.37, macOS: 3.39). The job engine (DBOS) on Python 3.12+ writes `unixepoch('subsec')` into its
schema, which SQLite before 3.42 evaluates to NULL, and our own inserts use RETURNING (3.35).
The library is checked by what it does, not by its version number; when Python's own falls
short, the bundled `pysqlite3` (package pysqlite3-binary) is used for every engine the process
opens, ours and the engine's.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from types import ModuleType


class SQLiteTooOld(RuntimeError):
    """No SQLite library at hand can hold the schema; the message names the fix."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem} Fix: {fix}")
        self.problem = problem
        self.fix = fix


def missing_features(
    module: ModuleType, python: tuple[int, int] = (sys.version_info.major, sys.version_info.minor)
) -> list[str]:
    """What `module`'s SQLite lacks for image2ad under Python `python` (empty when fine)."""
    missing: list[str] = []
    connection = module.connect(":memory:")
    try:
        if not _has_returning(connection):
            missing.append("RETURNING (SQLite 3.35)")
        if python >= (3, 12) and not _has_subsecond_unixepoch(connection):
            missing.append(
                "unixepoch('subsec') (SQLite 3.42), used by the job engine on Python 3.12+"
            )
    finally:
        connection.close()
    return missing


def _has_returning(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("CREATE TEMP TABLE probe (x INTEGER)")
        row = connection.execute("INSERT INTO probe (x) VALUES (1) RETURNING x").fetchone()
    except Exception:
        return False
    return row is not None and row[0] == 1


def _has_subsecond_unixepoch(connection: sqlite3.Connection) -> bool:
    # Before 3.38 the function is unknown (an error); before 3.42 'subsec' gives NULL.
    try:
        row = connection.execute("SELECT unixepoch('subsec')").fetchone()
    except Exception:
        return False
    return row is not None and row[0] is not None


@functools.cache
def driver() -> ModuleType:
    """The DB-API module to open SQLite with: Python's own when it can, else the bundled one."""
    missing = missing_features(sqlite3)
    if not missing:
        return sqlite3
    try:
        from pysqlite3 import dbapi2 as bundled
    except ImportError:
        raise SQLiteTooOld(
            f"This Python ({sys.version.split()[0]}) has SQLite {sqlite3.sqlite_version}, which "
            f"lacks {'; '.join(missing)}.",
            "install the bundled SQLite (`.venv/bin/pip install pysqlite3-binary`, Linux "
            "x86_64), or use a Python built with SQLite 3.42 or newer (Python 3.11 works with "
            "3.35+), or use PostgreSQL (IMAGE2AD_DATABASE_URL).",
        ) from None
    still_missing = missing_features(bundled)
    if still_missing:
        raise SQLiteTooOld(
            f"Neither Python's SQLite {sqlite3.sqlite_version} nor the bundled "
            f"{bundled.sqlite_version} has {'; '.join(still_missing)}.",
            "use PostgreSQL (IMAGE2AD_DATABASE_URL) or a newer Python.",
        )
    module: ModuleType = bundled
    return module


def describe() -> str:
    """One line for logs and `image2ad doctor`: which library, which version."""
    module = driver()
    origin = "Python's own" if module is sqlite3 else "bundled (pysqlite3)"
    return f"SQLite {module.sqlite_version}, {origin}"
