from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from image2ad.models import Upload


def get_owned(session: Session, upload_id: str, user_id: str) -> Upload | None:
    return session.scalar(
        sa.select(Upload).where(Upload.id == upload_id, Upload.user_id == user_id)
    )


def get(session: Session, upload_id: str) -> Upload | None:
    return session.get(Upload, upload_id)
