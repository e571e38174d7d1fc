"""The blocking client: `Client(base_url, api_key)`."""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
from tenacity import Retrying

from image2ad.client import _core
from image2ad.client._core import API, ImageInput, OnUpdate
from image2ad.client.errors import NetworkError, WaitTimeout
from image2ad.client.models import Job, JobPage, Me, Pack, PackPage, Upload

T = TypeVar("T")


class Client:
    """The image2ad API. Every call retries connection failures, 429 (after its Retry-After)
    and 502/503/504 with backoff; every create carries an Idempotency-Key, so no retry makes a
    second job. `transport` replaces httpx's own (a proxy, a test's faults)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = _core.DEFAULT_TIMEOUT_S,
        max_retries: int = _core.DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_retries = max_retries
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=_core.headers(api_key),
            timeout=timeout,
            transport=transport,
        )
        self.jobs = Jobs(self)
        self.uploads = Uploads(self)
        self.packs = Packs(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def me(self) -> Me:
        return Me.model_validate_json(self._request("GET", "/me").content)

    def run(
        self,
        type: str,
        prompt: str,
        *,
        model: str | None = None,
        image: ImageInput | None = None,
        source_upload_id: str | None = None,
        source_job_id: str | None = None,
        aspect_ratio: str | None = None,
        on_update: OnUpdate | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> Job:
        """Create the job, wait for it and return it completed; JobFailed when it fails or is
        canceled, WaitTimeout after `timeout` seconds (the job goes on)."""
        job = self.jobs.create(
            type,
            prompt,
            model=model,
            image=image,
            source_upload_id=source_upload_id,
            source_job_id=source_job_id,
            aspect_ratio=aspect_ratio,
            idempotency_key=idempotency_key,
            **params,
        )
        return self.wait(job, on_update=on_update, timeout=timeout)

    def wait(
        self, job: Job | str, *, on_update: OnUpdate | None = None, timeout: float | None = None
    ) -> Job:
        """Wait for a job to end, on its event stream or else by polling; as `run`."""
        current = self.jobs.get(job) if isinstance(job, str) else job
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        changes = _core.Changes(on_update)
        changes.see(current)
        if not current.is_terminal:
            read = self.timeout if timeout is None else max(0.1, min(timeout, self.timeout))
            events = self._events(current.id, read)
            try:
                for current in events:
                    changes.see(current)
                    if current.is_terminal or (
                        deadline is not None and time.monotonic() > deadline
                    ):
                        break
            finally:
                events.close()
        delay = _core.POLL_FIRST_S
        while not current.is_terminal:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(current, time.monotonic() - started)
                delay = min(delay, remaining)
            time.sleep(delay)
            current = self.jobs.get(current.id)
            changes.see(current)
            delay = _core.next_poll(delay)
        return _core.finished(current)

    def _events(self, job_id: str, read_timeout: float) -> Generator[Job, None, None]:
        """The job each time it changes, from its event stream. It just stops when the stream
        fails: the stream only saves requests, and polling finishes the wait."""
        decoder = _core.SSEDecoder()
        try:
            with self._http.stream(
                "GET",
                f"{API}/jobs/{job_id}/events",
                headers={"Accept": "text/event-stream"},
                timeout=httpx.Timeout(self.timeout, read=read_timeout),
            ) as response:
                if response.status_code != 200:
                    return
                for line in response.iter_lines():
                    job = _core.job_of(decoder.feed(line))
                    if job is not None:
                        yield job
        except (httpx.HTTPError, ValueError):
            return

    def download(self, job: Job | str) -> bytes:
        """The result file's bytes (following a redirect to a presigned storage URL)."""
        url = f"/jobs/{_core.job_id(job)}/result"
        return self._request("GET", url, follow_redirects=True).content

    def download_to(self, job: Job | str, path: str | os.PathLike[str]) -> Path:
        """Stream the result file to `path`; nothing is left there if the download fails."""
        target = Path(path)
        partial = target.with_name(target.name + ".part")

        def fetch() -> Path:
            url = f"{API}/jobs/{_core.job_id(job)}/result"
            try:
                with self._http.stream("GET", url, follow_redirects=True) as response:
                    if response.status_code >= 400:
                        response.read()
                        _core.check(response)
                    with partial.open("wb") as out:
                        for chunk in response.iter_bytes():
                            out.write(chunk)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
            return target

        return self._call(fetch, replayable=True)

    def _request(
        self, method: str, path: str, *, replayable: bool = True, **kw: Any
    ) -> httpx.Response:
        return self._call(
            lambda: _core.check(self._http.request(method, f"{API}{path}", **kw)),
            replayable=replayable,
        )

    def _call(self, send: Callable[[], T], *, replayable: bool) -> T:
        retrying = Retrying(**_core.retry_options(self.max_retries, replayable=replayable))
        try:
            return retrying(send)
        except httpx.TransportError as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc


class Jobs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        type: str,
        prompt: str,
        *,
        model: str | None = None,
        image: ImageInput | None = None,
        source_upload_id: str | None = None,
        source_job_id: str | None = None,
        aspect_ratio: str | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> Job:
        """Start a job (202). `image` is uploaded first unless it is an `Upload`; `params` are
        the model's own (see GET /api/v1/models). One Idempotency-Key serves every retry, so
        the job is created and charged once."""
        if image is not None:
            upload = image if isinstance(image, Upload) else self._client.uploads.create(image)
            source_upload_id = upload.id
        body = _core.job_body(
            type,
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            source_upload_id=source_upload_id,
            source_job_id=source_job_id,
            params=params,
        )
        key = idempotency_key or _core.new_idempotency_key()
        response = self._client._request(
            "POST", "/jobs", json=body, headers={"Idempotency-Key": key}
        )
        return Job.model_validate_json(response.content)

    def get(self, job: Job | str) -> Job:
        response = self._client._request("GET", f"/jobs/{_core.job_id(job)}")
        return Job.model_validate_json(response.content)

    def list(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        q: str | None = None,
        starred: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JobPage:
        """One page of your jobs, newest first; pass `next_cursor` back for the next one."""
        params = _core.query(
            type=type, status=status, q=q, starred=starred, limit=limit, cursor=cursor
        )
        response = self._client._request("GET", "/jobs", params=params)
        return JobPage.model_validate_json(response.content)

    def iter_all(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        q: str | None = None,
        starred: bool | None = None,
        page_size: int | None = None,
    ) -> Iterator[Job]:
        """Every matching job, page after page."""
        cursor: str | None = None
        while True:
            page = self.list(
                type=type, status=status, q=q, starred=starred, limit=page_size, cursor=cursor
            )
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def cancel(self, job: Job | str) -> Job:
        """Stop an unfinished job (Conflict if it already ended)."""
        path = f"/jobs/{_core.job_id(job)}/cancel"
        return Job.model_validate_json(
            self._client._request("POST", path, replayable=False).content
        )

    def retry(self, job: Job | str, *, idempotency_key: str | None = None) -> Job:
        """The same recipe again as a new job, charged like any new job."""
        key = idempotency_key or _core.new_idempotency_key()
        path = f"/jobs/{_core.job_id(job)}/retry"
        response = self._client._request("POST", path, headers={"Idempotency-Key": key})
        return Job.model_validate_json(response.content)

    def delete(self, job: Job | str) -> None:
        """Remove a job and its files (an unfinished one is canceled first)."""
        self._client._request("DELETE", f"/jobs/{_core.job_id(job)}", replayable=False)


class Uploads:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self, image: str | os.PathLike[str] | bytes | IO[bytes], filename: str | None = None
    ) -> Upload:
        """Upload a reference image: a path, its bytes or a binary file object."""
        files = _core.image_file(image, filename)
        response = self._client._request("POST", "/uploads", files=files)
        return Upload.model_validate_json(response.content)


class Packs:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        type: str,
        prompt: str,
        placements: builtins.list[str],
        *,
        variants: int = 1,
        model: str | None = None,
        image: ImageInput | None = None,
        source_upload_id: str | None = None,
        source_job_id: str | None = None,
        idempotency_key: str | None = None,
        **params: Any,
    ) -> Pack:
        """One brief for several placements (feed, portrait, story, landscape, link), each job
        cropped to the placement's exact ratio; all charged at once or none (402)."""
        if image is not None:
            upload = image if isinstance(image, Upload) else self._client.uploads.create(image)
            source_upload_id = upload.id
        body = _core.pack_body(
            type,
            prompt,
            placements,
            variants=variants,
            model=model,
            source_upload_id=source_upload_id,
            source_job_id=source_job_id,
            params=params,
        )
        key = idempotency_key or _core.new_idempotency_key()
        response = self._client._request(
            "POST", "/packs", json=body, headers={"Idempotency-Key": key}
        )
        return Pack.model_validate_json(response.content)

    def get(self, pack: Pack | str) -> Pack:
        pack_id = pack if isinstance(pack, str) else pack.id
        return Pack.model_validate_json(self._client._request("GET", f"/packs/{pack_id}").content)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> PackPage:
        response = self._client._request(
            "GET", "/packs", params=_core.query(limit=limit, cursor=cursor)
        )
        return PackPage.model_validate_json(response.content)
