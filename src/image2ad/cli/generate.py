"""`image2ad generate`: one job through the Python SDK (`image2ad.client`), waited for with a
progress bar, its result saved."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from image2ad.client import Client, Image2adError, Job, JobFailed, WaitTimeout


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
    json_: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the final job as JSON on stdout (the other lines go to stderr)"
        ),
    ] = False,
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
    params = _params(param or [])
    with Client(url, key) as client:
        try:
            with _ProgressBar() as bar:
                job = client.run(
                    type_,
                    prompt,
                    model=model,
                    image=image,
                    aspect_ratio=aspect_ratio,
                    on_update=bar.update,
                    timeout=timeout,
                    **params,
                )
            target = out or Path((job.result_path or job.id).rsplit("/", 1)[-1])
            client.download_to(job, target)
        except JobFailed as failed:
            _print_job(failed.job, json_)
            message = f"job {failed.job.id} {failed.job.status}: {failed.message}"
            typer.secho(message, err=True, fg="red")
            raise typer.Exit(1) from None
        except WaitTimeout as waited:
            job = waited.job
            message = f"still {job.status} after {timeout:.0f}s; job {job.id}"
            typer.secho(message, err=True, fg="yellow")
            raise typer.Exit(3) from None
        except Image2adError as error:
            typer.secho(f"error {error}", err=True, fg="red")
            raise typer.Exit(1) from None
    _print_job(job, json_)
    size = target.stat().st_size
    typer.echo(f"saved {target} ({size} bytes) from job {job.id}", err=json_)


def _print_job(job: Job, as_json: bool) -> None:
    if as_json:
        typer.echo(job.model_dump_json(indent=2))


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


class _ProgressBar:
    """The job's stage and progress, on stderr so stdout stays the command's answer."""

    def __init__(self) -> None:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
        )
        self._progress = Progress(*columns, transient=True, console=Console(stderr=True))
        self._task: TaskID | None = None

    def __enter__(self) -> _ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, job: Job) -> None:
        description = job.stage or job.status
        done = 100 if job.status == "completed" else job.progress or 0
        if self._task is None:
            self._task = self._progress.add_task(description, total=100)
        self._progress.update(self._task, description=description, completed=done)
