from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class UploadOut(BaseModel):
    id: str
    content_type: str
    size: int
    width: int
    height: int
    created_at: datetime
