"""Backup and restore of the database and the stored files together.

A file without a job is harmless; a job without its file is not. So a backup snapshots the
database first and then copies exactly the files that snapshot refers to (results, posters,
uploads, renditions): every row in the backup has its file, unless a user deleted it in
between (counted as missing in the manifest). A restore puts the files back first and the
database last, so the restored database never points at a file that is not there yet.

The database copy is consistent on its own: SQLite's online backup API, or `pg_dump` on a
snapshot exported from the same transaction that lists the files. The workflow engine's tables
live in the same database, so workflows in flight are restored with their jobs.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import psycopg
import sqlalchemy as sa

from image2ad.db import is_sqlite
from image2ad.models.base import utcnow
from image2ad.storage.base import ObjectNotFound, Storage

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.dump"
FILES = "files"
CHUNK = 1024 * 1024

# Every stored key the database refers to.
KEYS_SQL = """
SELECT result_path FROM jobs WHERE result_path IS NOT NULL
UNION SELECT poster_path FROM jobs WHERE poster_path IS NOT NULL
UNION SELECT storage_key FROM uploads
UNION SELECT storage_key FROM renditions
"""


class BackupError(Exception):
    pass


@dataclass
class Manifest:
    format: int
    created_at: str
    database: str  # sqlite | postgresql
    revision: str | None
    objects: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not path.is_file():
            raise BackupError(f"{folder} holds no {MANIFEST}: not a backup")
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise BackupError(f"unknown backup format {data.get('format')!r}")
        return cls(**data)


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as pg_dump/psycopg take it (no driver name)."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path:
    database = sa.make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _prepare(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty; choose a new folder")
    (folder / FILES).mkdir(parents=True, exist_ok=True)


def _keys_and_revision(conn: Any) -> tuple[list[str], str | None]:
    keys = sorted({row[0] for row in conn.execute(KEYS_SQL)})
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return keys, revision[0] if revision else None


def dump_database(url: str, folder: Path) -> tuple[str, list[str], str | None]:
    """Snapshot the database into `folder`; the stored keys and revision of that snapshot."""
    if is_sqlite(url):
        target = folder / SQLITE_FILE
        source = sqlite3.connect(sqlite_path(url))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            keys, revision = _keys_and_revision(copy)
        finally:
            copy.close()
            source.close()
        return "sqlite", keys, revision
    dsn = libpq_url(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        # pg_dump reads the very snapshot this transaction sees, so the file list matches it.
        _run(
            [
                "pg_dump",
                "--format=custom",
                f"--snapshot={row[0]}",
                "--file",
                str(folder / PG_FILE),
                dsn,
            ]
        )
        keys, revision = _keys_and_revision(conn)
        conn.execute("COMMIT")
    return "postgresql", keys, revision


def _run(argv: list[str]) -> None:
    try:
        # The PostgreSQL client tools with our own arguments; no shell.
        subprocess.run(argv, check=True, capture_output=True, text=True)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(f"{argv[0]} is not installed (PostgreSQL client tools)") from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{argv[0]} failed: {exc.stderr.strip()}") from exc


def _local(folder: Path, key: str) -> Path:
    parts = PurePosixPath(key).parts
    if not parts or any(p in ("", ".", "..") for p in parts) or key.startswith("/"):
        raise BackupError(f"refusing an unsafe key {key!r}")
    return folder / FILES / Path(*parts)


async def copy_out(
    storage: Storage, keys: Iterable[str], folder: Path, progress: Callable[[str], None]
) -> tuple[int, int, list[str]]:
    """Copy each key from the store into `folder/files`; (objects, bytes, missing keys)."""
    objects = size = 0
    missing: list[str] = []
    for key in keys:
        target = _local(folder, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with target.open("wb") as out:
                async for chunk in storage.read(key):
                    out.write(chunk)
                    size += len(chunk)
        except ObjectNotFound:
            target.unlink(missing_ok=True)
            missing.append(key)
            progress(f"missing in the store (deleted since the snapshot?): {key}")
            continue
        objects += 1
    return objects, size, missing


async def backup(
    url: str, storage: Storage, folder: Path, progress: Callable[[str], None]
) -> Manifest:
    _prepare(folder)
    kind, keys, revision = dump_database(url, folder)
    progress(f"database snapshot written ({kind}, revision {revision}); copying {len(keys)} files")
    objects, size, missing = await copy_out(storage, keys, folder, progress)
    manifest = Manifest(FORMAT, utcnow().isoformat(), kind, revision, objects, size, missing)
    manifest.write(folder)
    return manifest


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


async def copy_in(storage: Storage, folder: Path) -> tuple[int, int]:
    root = folder / FILES
    objects = size = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        stored = await storage.write(key, _chunks(path))
        objects += 1
        size += stored.size
    return objects, size


def _require_empty_postgres(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    if row and row[0]:
        raise BackupError("the target PostgreSQL database is not empty; restore into a new one")


def check_target(url: str, manifest: Manifest) -> None:
    """Refuse before anything is written: a mismatched or non-empty target database."""
    if manifest.database != ("sqlite" if is_sqlite(url) else "postgresql"):
        raise BackupError(
            f"this backup is of a {manifest.database} database; "
            "set a matching IMAGE2AD_DATABASE_URL"
        )
    if is_sqlite(url):
        if sqlite_path(url).exists():
            raise BackupError(f"{sqlite_path(url)} exists; restore into a new database file")
    else:
        _require_empty_postgres(libpq_url(url))


def load_database(url: str, folder: Path) -> None:
    if is_sqlite(url):
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / SQLITE_FILE, target)
        return
    _run(
        [
            "pg_restore",
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            libpq_url(url),
            str(folder / PG_FILE),
        ]
    )


async def restore(
    url: str, storage: Storage, folder: Path, progress: Callable[[str], None]
) -> Manifest:
    manifest = Manifest.read(folder)
    check_target(url, manifest)
    objects, size = await copy_in(storage, folder)
    progress(f"{objects} files ({size} bytes) written to the store")
    load_database(url, folder)
    progress(f"database restored ({manifest.database}, revision {manifest.revision})")
    return manifest
