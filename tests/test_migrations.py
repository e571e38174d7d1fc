"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from image2ad.db import Database
from image2ad.migrate import upgrade
from image2ad.models import Base


def test_models_match_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [
            d
            for d in compare_metadata(context, Base.metadata)
            # DBOS keeps its tables beside ours in the SQLite file; they are not ours to model.
            if not (d[0] == "remove_table" and d[1].name not in Base.metadata.tables)
        ]
    assert diff == []


def test_upgrade_is_idempotent(db: Database) -> None:
    upgrade(db.url)
    upgrade(db.url)
