"""jobs queue_tag: the fair createTask queue

Revision ID: 3c1d9a7e52f0
Revises: 051b79796391
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1d9a7e52f0"
down_revision: str | None = "051b79796391"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue_tag", sa.Integer(), nullable=True))
    op.create_index(
        "ix_jobs_waiting_tag",
        "jobs",
        ["queue_tag", "created_at"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )
    op.create_index(
        "ix_jobs_waiting_user_tag",
        "jobs",
        ["user_id", "queue_tag"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_waiting_user_tag", table_name="jobs")
    op.drop_index("ix_jobs_waiting_tag", table_name="jobs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("queue_tag")
