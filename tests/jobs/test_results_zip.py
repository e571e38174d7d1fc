"""`GET /api/v1/results.zip?ids=…`: several results as one ZIP, streamed as it is written.

Over HTTP against the live app (local storage, SQLite and PostgreSQL); the archive writer on
its own against S3 (moto) and, for memory, with a large local result.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from image2ad.jobs import export
from image2ad.jobs.export import Entry
from image2ad.storage.base import Storage
from image2ad.storage.local import LocalStorage
from image2ad.storage.s3 import S3Storage
from tests.fixtures.live_app import LiveApp
from tests.fixtures.s3 import MotoS3, moto_s3, s3_prefix
from tests.storage.memory import PeakRss

__all__ = ["moto_s3", "s3_prefix"]

ZIP = "/api/v1/results.zip"
DAY = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MIB = 1024 * 1024


@dataclass(frozen=True)
class Finished:
    """One user's three completed jobs: two images with the same prompt, and a video."""

    user: Any
    jobs: list[dict[str, Any]]

    @property
    def ids(self) -> list[str]:
        return [job["id"] for job in self.jobs]


@pytest.fixture(scope="module")
def finished(live_app: LiveApp) -> Finished:
    user = live_app.user(credits=10)
    bodies = [
        {"type": "text-to-image", "prompt": "Cold brew can on ice"},
        {"type": "text-to-image", "prompt": "Cold brew can on ice"},
        {"type": "text-to-video", "prompt": "Waves at dusk"},
    ]
    with live_app.client(user) as client:
        made = [client.post("/api/v1/jobs", json=body) for body in bodies]
        assert all(reply.status_code == 202 for reply in made), [r.text for r in made]
        jobs = [live_app.wait_job(client, reply.json()["id"]) for reply in made]
    assert [job["status"] for job in jobs] == ["completed"] * 3, jobs
    return Finished(user, jobs)


def results_zip(client: httpx.Client, ids: list[str] | str) -> httpx.Response:
    joined = ids if isinstance(ids, str) else ",".join(ids)
    return client.get(ZIP, params={"ids": joined})


def single_download(client: httpx.Client, job_id: str) -> tuple[str, bytes]:
    reply = client.get(f"/api/v1/jobs/{job_id}/result")
    assert reply.status_code == 200, reply.text
    (name,) = re.findall(r'filename="([^"]+)"', reply.headers["content-disposition"])
    return name, reply.content


def test_three_results_in_one_zip_named_like_their_downloads(
    live_app: LiveApp, finished: Finished
) -> None:
    with live_app.client(finished.user) as client:
        singles = [single_download(client, job_id) for job_id in finished.ids]
        before = datetime.now(UTC)
        # A repeated id (in another case, with spaces) counts once.
        ids = [*finished.ids, f" {finished.ids[0].upper()} "]
        reply = results_zip(client, ids)
        after = datetime.now(UTC)

    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/zip"
    assert reply.headers["content-disposition"] in {
        f'attachment; filename="image2ad-results-{day:%Y-%m-%d}.zip"' for day in (before, after)
    }
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "content-length" not in reply.headers  # streamed, not built first

    archive = zipfile.ZipFile(io.BytesIO(reply.content))
    assert archive.testzip() is None
    image, same_prompt, video = (name for name, _ in singles)
    assert image == same_prompt and image.endswith(".png") and video.endswith(".mp4")
    stem = image.removesuffix(".png")
    assert archive.namelist() == [image, f"{stem} (2).png", video]
    for info, (_, body) in zip(archive.infolist(), singles, strict=True):
        assert archive.read(info) == body
        assert info.file_size == len(body)
    assert archive.read(archive.namelist()[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert archive.read(video)[4:8] == b"ftyp"


def test_a_job_of_another_user_is_404_and_nothing_is_sent(
    live_app: LiveApp, finished: Finished
) -> None:
    stranger = live_app.user(credits=1)
    unknown = str(uuid.uuid4())
    with live_app.client(stranger) as client:
        made = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Mine"})
        own = live_app.wait_job(client, made.json()["id"])
        assert own["status"] == "completed"
        theirs = results_zip(client, [finished.ids[1]])
        mixed_in = results_zip(client, [own["id"], finished.ids[0]])
        nobodys = results_zip(client, [unknown])
    for reply in (theirs, mixed_in, nobodys):
        assert reply.status_code == 404, reply.text
        assert reply.headers["content-type"] == "application/json"
        assert "content-disposition" not in reply.headers
        assert reply.json()["error"]["code"] == "not_found"
    # The same answer as for a job that does not exist: nothing about whose it is.
    assert theirs.json()["error"]["message"].replace(finished.ids[1], "ID") == (
        nobodys.json()["error"]["message"].replace(unknown, "ID")
    )
    assert finished.user.email not in theirs.text and finished.user.id not in theirs.text

    # The other way round: one foreign id among the owner's own spoils the whole request.
    with live_app.client(finished.user) as client:
        reply = results_zip(client, [*finished.ids, own["id"]])
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "not_found"


def test_unfinished_and_deleted_jobs_are_404(live_app: LiveApp) -> None:
    user = live_app.user(credits=3)
    with live_app.client(user) as client:
        made = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "a"})
        done = live_app.wait_job(client, made.json()["id"])
        assert done["status"] == "completed"
        live_app.emulator.settings.image_duration_s = 30  # stays unfinished while we ask
        pending = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "b"})
        pending_id = pending.json()["id"]
        reply = results_zip(client, [done["id"], pending_id])
        assert reply.status_code == 404, reply.text
        assert pending_id in reply.json()["error"]["message"]
        client.post(f"/api/v1/jobs/{pending_id}/cancel")

        assert results_zip(client, [done["id"]]).status_code == 200
        assert client.delete(f"/api/v1/jobs/{done['id']}").status_code == 204
        assert results_zip(client, [done["id"]]).status_code == 404


@pytest.mark.parametrize(
    ("ids", "says"),
    [
        ("", "Give 1 to 100 job ids"),
        (" , ,", "Give 1 to 100 job ids"),
        (",".join(str(uuid.uuid4()) for _ in range(101)), "At most 100 job ids"),
        ("garbage", "'garbage' is not a job id"),
        ("../../etc/passwd", "is not a job id"),
        (f"{uuid.uuid4()},{uuid.uuid4()}x", "is not a job id"),
    ],
)
def test_bad_id_lists_are_422_naming_the_field(live_app: LiveApp, ids: str, says: str) -> None:
    user = live_app.user(credits=0)
    with live_app.client(user) as client:
        reply = results_zip(client, ids)
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid_input" and error["field"] == "ids"
    assert says in error["message"]


def test_no_ids_at_all_is_422_and_anonymous_is_401(live_app: LiveApp) -> None:
    user = live_app.user(credits=0)
    with live_app.client(user) as client:
        missing = client.get(ZIP)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "ids"
    with live_app.client() as anonymous:
        assert results_zip(anonymous, [str(uuid.uuid4())]).status_code == 401


def test_a_result_gone_from_storage_is_left_out_and_named(
    live_app: LiveApp, finished: Finished
) -> None:
    user = live_app.user(credits=1)
    with live_app.client(user) as client:
        made = client.post("/api/v1/jobs", json={"type": "text-to-image", "prompt": "Lost"})
        lost = live_app.wait_job(client, made.json()["id"])
    path = live_app.app.state.runtime.storage.local_path(lost["result_path"])
    os.remove(path)
    with live_app.client(user) as client:
        reply = results_zip(client, [lost["id"]])
    assert reply.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(reply.content))
    assert archive.testzip() is None
    assert archive.namelist() == [export.MISSING_NAME]
    note = archive.read(export.MISSING_NAME).decode()
    assert lost["id"] in note and "text-to-image-lost-" in note


def test_repeated_names_get_numbered_ignoring_case() -> None:
    assert export.unique_names(["a.png", "b.mp4", "A.png", "a.png", "a (2).png", "noext"]) == [
        "a.png",
        "b.mp4",
        "A (2).png",
        "a (3).png",
        "a (2) (2).png",
        "noext",
    ]


def test_the_archive_is_named_for_the_day() -> None:
    assert export.archive_name(DAY) == "image2ad-results-2026-11-30.zip"


# The writer alone, against each store -------------------------------------------------------


async def chunks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def gather(storage: Storage, members: list[Entry]) -> bytes:
    return b"".join([chunk async for chunk in export.zip_stream(storage, members)])


def entry(key: str, name: str, size: int | None) -> Entry:
    return Entry(job_id=str(uuid.uuid4()), key=key, name=name, modified=DAY, size=size)


async def test_the_writer_streams_s3_objects_and_skips_a_missing_one(
    moto_s3: MotoS3, s3_prefix: str
) -> None:
    store = S3Storage.from_url(moto_s3.url(s3_prefix), moto_s3.settings())
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
    mp4 = b"\x00\x00\x00\x18ftypmp42" + os.urandom(3 * MIB)  # several read chunks
    await store.write("results/u/a.png", chunks(png))
    await store.write("results/u/b.mp4", chunks(mp4))
    members = [
        entry("results/u/a.png", "a.png", len(png)),
        entry("results/u/gone.png", "gone.png", 10),
        entry("results/u/b.mp4", "b.mp4", None),  # size unknown: Zip64
    ]
    archive = zipfile.ZipFile(io.BytesIO(await gather(store, members)))
    assert archive.testzip() is None
    assert archive.namelist() == ["a.png", "b.mp4", export.MISSING_NAME]
    assert archive.read("a.png") == png and archive.read("b.mp4") == mp4
    assert archive.getinfo("a.png").date_time == (2026, 11, 30, 12, 0, 0)
    assert "gone.png" in archive.read(export.MISSING_NAME).decode()


@pytest.fixture
def big_result(tmp_path: Path) -> Iterator[tuple[LocalStorage, str, str, int]]:
    store = LocalStorage(tmp_path / "files")
    path = Path(store.local_path("results/u/big.mp4") or "")
    path.parent.mkdir(parents=True)
    digest, size = hashlib.sha256(), 0
    with path.open("wb") as out:
        block = os.urandom(MIB)
        for index in range(128):
            chunk = index.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    yield store, "results/u/big.mp4", digest.hexdigest(), size


async def test_a_128_mib_result_zips_in_bounded_memory(
    big_result: tuple[LocalStorage, str, str, int], tmp_path: Path
) -> None:
    store, key, digest, size = big_result
    target = tmp_path / "out.zip"
    with PeakRss() as peak, target.open("wb") as out:
        async for chunk in export.zip_stream(store, [entry(key, "big.mp4", size)]):
            out.write(chunk)
    print(f"128 MiB into a ZIP: RSS +{peak.growth_mib:.1f} MiB")
    assert peak.growth_mib <= 32, f"zipping grew RSS by {peak.growth_mib:.1f} MiB"
    with zipfile.ZipFile(target) as archive, archive.open("big.mp4") as member:
        unpacked = hashlib.sha256()
        while block := member.read(MIB):
            unpacked.update(block)
    assert unpacked.hexdigest() == digest


def test_the_operation_is_documented_as_a_zip(live_app: LiveApp) -> None:
    with live_app.client() as client:
        spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/results.zip"]["get"]
    assert "application/zip" in operation["responses"]["200"]["content"]
    assert {"401", "404", "422"} <= set(operation["responses"])
