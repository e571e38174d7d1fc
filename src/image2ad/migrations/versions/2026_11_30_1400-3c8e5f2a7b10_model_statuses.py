"""model statuses

Revision ID: 3c8e5f2a7b10
Revises: 9d3e6a1c2b47
Create Date: 2026-11-30 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import image2ad.models.base

revision: str = "3c8e5f2a7b10"
down_revision: str | None = "9d3e6a1c2b47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_statuses",
        sa.Column("provider_model", sa.String(length=100), nullable=False),
        sa.Column("api", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("since", image2ad.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_at", image2ad.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_check_at", image2ad.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider_model", name=op.f("pk_model_statuses")),
    )


def downgrade() -> None:
    op.drop_table("model_statuses")
