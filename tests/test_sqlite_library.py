"""The SQLite library check: what a library lacks is found by asking it, not by its version."""

from __future__ import annotations

import sqlite3

import pytest

from image2ad import sqlite


def test_pythons_own_sqlite_is_judged_by_what_it_can_do() -> None:
    # Python 3.11 needs RETURNING only; 3.12+ also needs unixepoch('subsec') (SQLite 3.42).
    assert sqlite.missing_features(sqlite3, (3, 11)) == []
    lacking = sqlite.missing_features(sqlite3, (3, 12))
    if sqlite3.sqlite_version_info >= (3, 42, 0):
        assert lacking == []
    else:
        assert lacking and "unixepoch('subsec')" in lacking[0]


def test_the_bundled_sqlite_has_everything_the_job_engine_needs() -> None:
    bundled = pytest.importorskip("pysqlite3.dbapi2")
    assert sqlite.missing_features(bundled, (3, 13)) == []
    assert bundled.sqlite_version_info >= (3, 42, 0)


def test_the_chosen_driver_has_what_this_python_needs() -> None:
    assert sqlite.missing_features(sqlite.driver()) == []
