"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from image2ad.db import Database
from image2ad.migrate import upgrade
from image2ad.models import Base
from tests.fixtures.factories import create_user


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


def schema_and_data(db: Database) -> dict[str, Any]:
    """Every table of ours (and alembic's version row) as columns, keys, indexes and rows."""
    ours = [*Base.metadata.tables, "alembic_version"]
    with db.engine.connect() as conn:
        inspector = sa.inspect(conn)
        found: dict[str, Any] = {}
        for table in sorted(set(inspector.get_table_names()) & set(ours)):
            columns = inspector.get_columns(table)
            found[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in columns
                ],
                "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
                "foreign_keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "unique": sorted(
                    (u["name"] or "", tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table)
                ),
                "rows": sorted(map(repr, conn.execute(sa.text(f'SELECT * FROM "{table}"')).all())),
            }
    return found


def test_upgrade_is_idempotent(db: Database) -> None:
    upgrade(db.url)
    create_user(db, credits=3)  # some data for a second upgrade to leave alone
    before = schema_and_data(db)
    assert "users" in before and before["users"]["rows"] and before["alembic_version"]["rows"]
    upgrade(db.url)
    assert schema_and_data(db) == before
