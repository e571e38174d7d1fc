"""Several results as one ZIP (`GET /results.zip`), written while it streams.

Each result is read from storage chunk by chunk straight into the archive, so neither a file
nor the archive is ever held whole. stream-zip writes the format; the members are stored with
deflate at level 0 (images and videos are compressed already), so the cost is a copy and a
CRC. A result missing from storage when its turn comes is left out and logged, and the archive
ends with `missing-results.txt` naming it: the archive stays valid either way.

stream-zip's writer is a plain generator that pulls its input. Its own `async_stream_zip`
drives it on asyncio's default executor, which in this app is the DBOS step pool: a thread held
there waiting for a storage read that itself needs a pool thread (`LocalStorage` reads through
`asyncio.to_thread`) could wedge the pool under enough parallel downloads. So the writer runs
on a small pool of its own, and asks the event loop for each chunk of input.
"""

from __future__ import annotations

import asyncio
import logging
import re
import stat
import zlib
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from stream_zip import ZIP_32, ZIP_64, ZIP_AUTO, MemberFile, Method, stream_zip

from image2ad.errors import InvalidInput, NotFound
from image2ad.jobs.naming import download_name
from image2ad.jobs.status import JobStatus
from image2ad.models import Job
from image2ad.models.base import utcnow
from image2ad.storage.base import ObjectNotFound, Storage

log = logging.getLogger(__name__)

MAX_IDS = 100
# Ids are made by the server (models.base.new_id); anything else cannot name a job.
_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CHUNK = 256 * 1024
MODE = stat.S_IFREG | 0o644
MISSING_NAME = "missing-results.txt"
# Archives being written at once; more wait their turn chunk by chunk (each turn is short).
WRITER_THREADS = 8
# A writer thread never waits longer than this for one chunk of input (the store's own
# timeouts are shorter): a stopped event loop cannot hold a thread, or the process exit, for good.
INPUT_WAIT_S = 300.0

_writers = ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="zip-writer")
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One member of the archive: a result and the name it is saved under."""

    job_id: str
    key: str
    name: str
    modified: datetime
    size: int | None


def archive_name(today: datetime | None = None) -> str:
    return f"image2ad-results-{(today or utcnow()):%Y-%m-%d}.zip"


def parse_ids(raw: str) -> list[str]:
    """Comma-separated job ids, in order, each once; InvalidInput (422) unless 1 to MAX_IDS."""
    ids = list(dict.fromkeys(p.strip().lower() for p in raw.split(",") if p.strip()))
    if not ids:
        raise InvalidInput(f"Give 1 to {MAX_IDS} job ids, separated by commas.", field="ids")
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"At most {MAX_IDS} job ids at a time ({len(ids)} given).", field="ids")
    for job_id in ids:
        if not _JOB_ID.fullmatch(job_id):
            shown = job_id if len(job_id) <= 40 else job_id[:40] + "…"
            raise InvalidInput(f"{shown!r} is not a job id.", field="ids")
    return ids


def entries(session: Session, user_id: str, ids: Sequence[str]) -> list[Entry]:
    """The members for these jobs, in the order asked, checked in one query: each must be the
    user's own, not deleted, and completed with a result, or the whole request is a 404 that
    says nothing about whose a job is."""
    rows = session.execute(
        sa.select(
            Job.id,
            Job.type,
            Job.prompt,
            Job.created_at,
            Job.completed_at,
            Job.result_path,
            Job.result_size,
        ).where(
            Job.id.in_(ids),
            Job.user_id == user_id,
            Job.deleted_at.is_(None),
            Job.status == JobStatus.COMPLETED.value,
            Job.result_path.is_not(None),
        )
    ).all()
    found = {row.id: row for row in rows}
    for job_id in ids:
        if job_id not in found:
            raise NotFound(f"No finished result for job {job_id}.")
    ordered = [found[job_id] for job_id in ids]
    names = unique_names(
        download_name(row.type, row.prompt, row.created_at, row.result_path) for row in ordered
    )
    return [
        Entry(
            job_id=row.id,
            key=row.result_path,
            name=name,
            modified=row.completed_at or row.created_at,
            size=row.result_size,
        )
        for row, name in zip(ordered, names, strict=True)
    ]


def unique_names(names: Iterable[str]) -> list[str]:
    """The names, a repeated one (ignoring case) as `name (2).ext`, `name (3).ext`, …"""
    taken: set[str] = set()
    out: list[str] = []
    for name in names:
        path = PurePosixPath(name)
        candidate, copy = name, 1
        while candidate.casefold() in taken:
            copy += 1
            candidate = f"{path.stem} ({copy}){path.suffix}"
        taken.add(candidate.casefold())
        out.append(candidate)
    return out


async def zip_stream(storage: Storage, members: Sequence[Entry]) -> AsyncIterator[bytes]:
    """The archive's bytes, written on a writer thread one chunk at a time as they are read."""
    loop = asyncio.get_running_loop()
    chunks = iter(
        stream_zip(
            _member_files(storage, members, loop),
            chunk_size=CHUNK,
            get_compressobj=_stored_deflate,
        )
    )
    while (chunk := await asyncio.wrap_future(_writers.submit(next, chunks, None))) is not None:
        yield chunk
    # Given up on (the client left), `chunks` is closed where its last reference goes: here,
    # or on the writer thread once its turn ends. Nothing in it waits on the loop when closed,
    # and a store's read left open is closed by asyncio's async-generator finalizer.


def _stored_deflate() -> zlib._Compress:
    return zlib.compressobj(level=0, memLevel=8, wbits=-zlib.MAX_WBITS)


def _method(size: int | None) -> Method:
    # ZIP_AUTO keeps a member in the classic format (which every unzipper reads) unless its size
    # or offset needs Zip64; an unknown size takes Zip64 to be safe.
    return ZIP_AUTO(size, level=0) if size is not None else ZIP_64


def _member_files(
    storage: Storage, members: Sequence[Entry], loop: asyncio.AbstractEventLoop
) -> Iterator[MemberFile]:
    """Runs on a writer thread: each result that is still in storage, then the note on those
    that are not."""

    def on_loop(work: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            return future.result(timeout=INPUT_WAIT_S)
        except TimeoutError:
            future.cancel()
            raise

    def rest(first: bytes, source: AsyncIterator[bytes]) -> Iterator[bytes]:
        yield first
        while (chunk := on_loop(_next(source))) is not None:
            yield chunk

    missing: list[Entry] = []
    for entry in members:
        opened = on_loop(_open(storage, entry.key))
        if opened is None:
            log.warning(
                "result %s of job %s is missing from storage: left out of the ZIP",
                entry.key,
                entry.job_id,
            )
            missing.append(entry)
            continue
        first, source = opened
        yield entry.name, entry.modified, MODE, _method(entry.size), rest(first, source)
    if missing:
        note = "These results could not be read and are not in this archive:\n" + "".join(
            f"{entry.name} (job {entry.job_id})\n" for entry in missing
        )
        yield MISSING_NAME, utcnow(), MODE, ZIP_32, (note.encode(),)


async def _open(storage: Storage, key: str) -> tuple[bytes, AsyncIterator[bytes]] | None:
    """The object's first chunk and the rest of its stream, or None when it is not stored.

    Read before the member's header is written, so a missing file leaves no broken entry."""
    source = storage.read(key)
    try:
        first = await anext(source, b"")
    except ObjectNotFound:
        return None
    return first, source


async def _next(source: AsyncIterator[bytes]) -> bytes | None:
    return await anext(source, None)
