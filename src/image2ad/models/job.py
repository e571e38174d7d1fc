from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from image2ad.models.base import Base, UTCDateTime, new_id, utcnow


class Job(Base):
    """One generation. Keeps the seed's columns: task_id, result_type, source_image_url."""

    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_user_created", "user_id", "created_at"),
        sa.Index("ix_jobs_due", "status", "next_check_at"),
        sa.Index("ix_jobs_user_starred", "user_id", "starred_at"),
        # Only waiting jobs carry weight in the fair queue (jobs/queueing.py): keep it small.
        sa.Index(
            "ix_jobs_waiting_tag",
            "queue_tag",
            "created_at",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
        sa.Index(
            "ix_jobs_waiting_user_tag",
            "user_id",
            "queue_tag",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed', 'canceled')",
            name="status_known",
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    stage: Mapped[str | None] = mapped_column(sa.String(16), default="queued")
    progress: Mapped[int | None] = mapped_column(sa.Integer)
    prompt: Mapped[str] = mapped_column(sa.Text)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    model: Mapped[str] = mapped_column(sa.String(100))
    task_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    result_type: Mapped[str] = mapped_column(sa.String(16), default="image")
    result_path: Mapped[str | None] = mapped_column(sa.String(512))
    result_content_type: Mapped[str | None] = mapped_column(sa.String(64))
    result_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    result_width: Mapped[int | None] = mapped_column(sa.Integer)
    result_height: Mapped[int | None] = mapped_column(sa.Integer)
    result_duration_s: Mapped[float | None] = mapped_column(sa.Float)
    poster_path: Mapped[str | None] = mapped_column(sa.String(512))
    source_image_url: Mapped[str | None] = mapped_column(sa.Text)
    source_upload_id: Mapped[str | None] = mapped_column(sa.String(36))
    # The job whose result this one started from (its `source_upload_id` holds a copy of it).
    parent_job_id: Mapped[str | None] = mapped_column(
        sa.String(36), sa.ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    error_code: Mapped[str | None] = mapped_column(sa.String(64))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    credits_charged: Mapped[int] = mapped_column(sa.Integer, default=0)
    credits_refunded: Mapped[int] = mapped_column(sa.Integer, default=0)
    provider_credits_consumed: Mapped[float | None] = mapped_column(sa.Float)
    # Authenticates Kie's callback for this job (in the callback URL); never shown to users.
    callback_secret: Mapped[str] = mapped_column(sa.String(64))
    submit_attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    # The job's turn in the fair createTask queue (jobs/queueing.py): the workflow's priority.
    queue_tag: Mapped[int | None] = mapped_column(sa.Integer)
    # The submit attempt whose createTask may have gone out; a re-run of that step after a
    # crash must not send it again (Kie has no idempotency key).
    create_sent_attempt: Mapped[int | None] = mapped_column(sa.Integer)
    poll_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Which finish workflow owns the outcome (`finish-{id}` for 0, `finish-{id}-{n}` after):
    # a finish workflow that ended while the job stayed unfinished is spent, and the next
    # check starts a new attempt instead of re-asking for the spent id (a DBOS no-op).
    finish_attempt: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    starred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A pack's job is made for one placement (its exact ratio) as one of the pack's variants.
    pack_id: Mapped[str | None] = mapped_column(
        sa.String(36), sa.ForeignKey("packs.id", ondelete="SET NULL"), index=True
    )
    placement: Mapped[str | None] = mapped_column(sa.String(16))
    variant: Mapped[int | None] = mapped_column(sa.Integer)
    # SHA-256 of the stored result file, as the user downloads it.
    result_sha256: Mapped[str | None] = mapped_column(sa.String(64))
