"""`image2ad generate`: a client of the HTTP API that waits for the job with a progress bar."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

TERMINAL = {"completed", "failed", "canceled"}


def generate(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help="text-to-image, image-to-image, …")],
    prompt: Annotated[str, typer.Argument(help="What to generate")],
    image: Annotated[Path | None, typer.Option(help="Reference image for image types")] = None,
    aspect_ratio: Annotated[str | None, typer.Option(help="e.g. 1:1, 9:16, landscape")] = None,
    model: Annotated[
        str | None, typer.Option(help="A model id from /api/v1/models (default: the type's)")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="A model parameter NAME=VALUE, repeatable (e.g. duration=10)"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where to save the result")] = None,
    url: Annotated[str, typer.Option(envvar="IMAGE2AD_URL", help="Server URL")] = (
        "http://127.0.0.1:8000"
    ),
    api_key: Annotated[str | None, typer.Option(envvar="IMAGE2AD_API_KEY", help="API key")] = None,
    timeout: Annotated[float, typer.Option(help="Give up waiting after this many seconds")] = 1800,
) -> None:
    """Create a job through the API, wait for it, and save the result."""
    key = api_key or os.environ.get("IMAGE2AD_API_KEY")
    if not key:
        typer.secho("error: pass --api-key or set IMAGE2AD_API_KEY", err=True, fg="red")
        raise typer.Exit(2)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
        body: dict[str, Any] = {"type": type_, "prompt": prompt}
        if aspect_ratio:
            body["aspect_ratio"] = aspect_ratio
        if model:
            body["model"] = model
        if param:
            body["params"] = _params(param)
        if image is not None:
            body["source_upload_id"] = _upload(api, image)
        job = _check(api.post("/api/v1/jobs", json=body))
        job = _wait(api, job, timeout)
        if job["status"] != "completed":
            error = job.get("error") or {}
            typer.secho(
                f"job {job['id']} {job['status']}: {error.get('message', '')}", err=True, fg="red"
            )
            raise typer.Exit(1)
        target = out or Path(job["result_path"].rsplit("/", 1)[-1])
        # S3-backed servers answer 307 to a presigned URL; httpx drops the API key on the
        # cross-origin hop, and the signature in the URL is the permission.
        result_url = f"/api/v1/jobs/{job['id']}/result"
        with api.stream("GET", result_url, follow_redirects=True) as response:
            response.raise_for_status()
            with target.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        typer.echo(f"saved {target} ({target.stat().st_size} bytes) from job {job['id']}")


def _params(pairs: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs; true/false and whole numbers are sent as such, the rest as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r}: use NAME=VALUE", param_hint="--param")
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif raw.isdigit():
            value = int(raw)
        params[name] = value
    return params


def _upload(api: httpx.Client, image: Path) -> str:
    with image.open("rb") as handle:
        upload = _check(api.post("/api/v1/uploads", files={"file": (image.name, handle)}))
    return str(upload["id"])


def _wait(api: httpx.Client, job: dict[str, Any], timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(job["status"], total=100)
        while job["status"] not in TERMINAL:
            if time.monotonic() - started > timeout:
                typer.secho(
                    f"still {job['status']} after {timeout:.0f}s; job {job['id']}",
                    err=True,
                    fg="yellow",
                )
                raise typer.Exit(3)
            time.sleep(1.0)
            job = _check(api.get(f"/api/v1/jobs/{job['id']}"))
            stage = job.get("stage") or job["status"]
            bar.update(task, description=stage, completed=job.get("progress") or 0)
    return job


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        typer.secho(f"error ({response.status_code}) {message}", err=True, fg="red")
        raise typer.Exit(1)
    data: dict[str, Any] = response.json()
    return data
