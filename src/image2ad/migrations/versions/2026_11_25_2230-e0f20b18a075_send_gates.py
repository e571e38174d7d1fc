"""send gates

Revision ID: e0f20b18a075
Revises: a4dff2d34c4e
Create Date: 2026-11-25 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import image2ad.models.base

revision: str = "e0f20b18a075"
down_revision: str | None = "a4dff2d34c4e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_gates",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_at", image2ad.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_send_gates")),
    )


def downgrade() -> None:
    op.drop_table("send_gates")
