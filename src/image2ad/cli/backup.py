"""`image2ad backup DIR` and `image2ad restore DIR` (see image2ad/backup.py for the order)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from image2ad import backup as backups
from image2ad import logs
from image2ad.config import Settings
from image2ad.storage.factory import storage_from_url


def _settings() -> Settings:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    return settings


def _fail(exc: backups.BackupError) -> None:
    typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def backup_command(
    folder: Annotated[Path, typer.Argument(help="A new, empty folder for the backup")],
) -> None:
    """Back up the database, then every stored file it refers to, into FOLDER."""
    settings = _settings()
    storage = storage_from_url(settings.resolved_storage_url, settings.storage)
    try:
        manifest = asyncio.run(
            backups.backup(settings.resolved_database_url, storage, folder, typer.echo)
        )
    except backups.BackupError as exc:
        _fail(exc)
    typer.echo(
        f"backup complete in {folder}: {manifest.database} database at revision "
        f"{manifest.revision}, {manifest.objects} files ({manifest.bytes} bytes), "
        f"{len(manifest.missing)} missing"
    )


def restore_command(
    folder: Annotated[Path, typer.Argument(help="A folder written by `image2ad backup`")],
) -> None:
    """Restore FOLDER into an empty database and the configured store (files first)."""
    settings = _settings()
    storage = storage_from_url(settings.resolved_storage_url, settings.storage)
    try:
        manifest = asyncio.run(
            backups.restore(settings.resolved_database_url, storage, folder, typer.echo)
        )
    except backups.BackupError as exc:
        _fail(exc)
    typer.echo(
        f"restore complete: revision {manifest.revision}; run `image2ad db upgrade` before "
        "starting processes of a newer version"
    )
