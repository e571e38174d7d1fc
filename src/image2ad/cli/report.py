"""`image2ad report …`: what the service earns against what Kie charges."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from image2ad import logs
from image2ad.catalog import Catalog
from image2ad.config import Settings
from image2ad.db import Database
from image2ad.jobs.margin import MarginRow, margin, total

report_app = typer.Typer(no_args_is_help=True, help="Reports for operators.")

_SPAN = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """`7d`, `12h`, `2w`, or a date `2026-11-01` (UTC)."""
    if value is None:
        return None
    span = _SPAN.match(value.strip())
    if span:
        return now - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter("use 7d, 12h, 2w or a date such as 2026-11-01") from None


@report_app.command("margin")
def report_margin(
    since: Annotated[
        str | None, typer.Option(help="Jobs created since: 7d, 12h, 2w or 2026-11-01")
    ] = None,
) -> None:
    """Credits taken from users vs Kie credits spent, by type and model (finished jobs)."""
    start = parse_since(since, datetime.now(UTC))
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    db = Database(settings.resolved_database_url, pool_size=2)
    try:
        with db.session(read_only=True) as session:
            rows = margin(session, Catalog.load(settings.catalog_file), start)
    finally:
        db.dispose()
    typer.echo("TYPE\tMODEL\tJOBS\tCOMPLETED\tCREDITS TAKEN\tKIE CREDITS\tKIE USD\tESTIMATED")
    for row in rows:
        typer.echo(_line(row))
    typer.echo(_line(total(rows)))


def _line(r: MarginRow) -> str:
    return (
        f"{r.type}\t{r.model}\t{r.jobs}\t{r.completed}\t{r.credits_taken}\t"
        f"{r.kie_credits:.1f}\t{r.kie_usd:.2f}\t{r.estimated_jobs}"
    )
