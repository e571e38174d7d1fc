from __future__ import annotations

from sqlalchemy.orm import Session

from image2ad.models import SupabaseIdentity, User


def linked_user(session: Session, subject: str) -> User | None:
    identity = session.get(SupabaseIdentity, subject)
    return None if identity is None else session.get_one(User, identity.user_id)


def link(session: Session, subject: str, user_id: str) -> None:
    session.add(SupabaseIdentity(subject=subject, user_id=user_id))
    session.flush()
