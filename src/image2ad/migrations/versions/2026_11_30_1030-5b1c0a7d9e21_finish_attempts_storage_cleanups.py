"""finish attempts and storage cleanups

Revision ID: 5b1c0a7d9e21
Revises: e0f20b18a075
Create Date: 2026-11-30 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import image2ad.models.base

revision: str = "5b1c0a7d9e21"
down_revision: str | None = "e0f20b18a075"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("finish_attempt", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "storage_cleanups",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", image2ad.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "next_attempt_at", image2ad.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_storage_cleanups")),
    )
    op.create_index(
        op.f("ix_storage_cleanups_next_attempt_at"),
        "storage_cleanups",
        ["next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_storage_cleanups_next_attempt_at"), table_name="storage_cleanups")
    op.drop_table("storage_cleanups")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("finish_attempt")
