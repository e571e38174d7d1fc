"""`image2ad doctor`: a preflight that checks the setup and names the fix for each problem."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from image2ad import doctor as checks
from image2ad.config import Settings


def doctor(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only problems (warn and fail)")
    ] = False,
    before_serve: Annotated[
        bool,
        typer.Option(help="Skip what only a running server can pass (used by `make run`)"),
    ] = False,
) -> None:
    """Check Python, SQLite, data dir, database, storage, Kie and callbacks; exit 1 on a failure."""
    chosen = checks.BEFORE_SERVE if before_serve else checks.CHECKS
    findings = asyncio.run(checks.run(Settings(), chosen))
    for finding in findings:
        if quiet and finding.level == checks.Level.OK:
            continue
        color = {
            checks.Level.OK: typer.colors.GREEN,
            checks.Level.WARN: typer.colors.YELLOW,
            checks.Level.FAIL: typer.colors.RED,
        }[finding.level]
        typer.secho(finding.line(), fg=color, err=finding.level != checks.Level.OK)
    if any(f.level == checks.Level.FAIL for f in findings):
        raise typer.Exit(1)
