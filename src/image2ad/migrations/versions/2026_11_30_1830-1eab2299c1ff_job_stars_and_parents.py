"""job stars and parents

Revision ID: 1eab2299c1ff
Revises: 1ded50547678
Create Date: 2026-11-30 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import image2ad.models.base

revision: str = "1eab2299c1ff"
down_revision: str | None = "1ded50547678"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_job_id", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column("starred_at", image2ad.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_jobs_parent_job_id_jobs"),
            "jobs",
            ["parent_job_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_jobs_parent_job_id"), ["parent_job_id"], unique=False)
        batch_op.create_index("ix_jobs_user_starred", ["user_id", "starred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_user_starred")
        batch_op.drop_index(batch_op.f("ix_jobs_parent_job_id"))
        batch_op.drop_constraint(batch_op.f("fk_jobs_parent_job_id_jobs"), type_="foreignkey")
        batch_op.drop_column("starred_at")
        batch_op.drop_column("parent_job_id")
