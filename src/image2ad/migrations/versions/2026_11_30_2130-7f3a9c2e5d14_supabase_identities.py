"""supabase identities

Revision ID: 7f3a9c2e5d14
Revises: 05edbe68da1b
Create Date: 2026-11-30 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import image2ad.models.base

revision: str = "7f3a9c2e5d14"
down_revision: str | None = "05edbe68da1b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supabase_identities",
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", image2ad.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_supabase_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_supabase_identities")),
        sa.UniqueConstraint("user_id", name=op.f("uq_supabase_identities_user_id")),
    )


def downgrade() -> None:
    op.drop_table("supabase_identities")
