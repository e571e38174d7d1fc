"""Accounts and API keys."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from image2ad.auth import key_touches, repository
from image2ad.auth.passwords import hash_password
from image2ad.credits import service as credits
from image2ad.db import Database
from image2ad.errors import Conflict, InvalidInput, NotFound
from image2ad.models import ApiKey, User
from image2ad.models.base import utcnow

API_KEY_PREFIX = "i2a_"
_EMAIL = re.compile(r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+$")
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class NewApiKey:
    record: ApiKey
    plaintext: str


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput("Enter a valid email address.", field="email")
    return email


def create_user(
    session: Session,
    email: str,
    *,
    password: str | None = None,
    credits_granted: int = 0,
    is_admin: bool = False,
) -> User:
    email = normalize_email(email)
    if repository.get_user_by_email(session, email) is not None:
        raise Conflict("An account with this email already exists.", field="email")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    user = User(
        email=email,
        password_hash=hash_password(password) if password else None,
        credits=0,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    if credits_granted > 0:
        credits.grant(session, user.id, credits_granted, note="signup")
        session.refresh(user)
    return user


def require_user_by_email(session: Session, email: str) -> User:
    user = repository.get_user_by_email(session, email)
    if user is None:
        raise NotFound(f"No user with email {email.strip().lower()}.")
    return user


def hash_api_key(plaintext: str) -> str:
    # API keys are 256-bit random, so a fast hash is enough; passwords use Argon2id.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_api_key(session: Session, user: User, name: str = "") -> NewApiKey:
    plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        user_id=user.id, name=name[:100], prefix=plaintext[:12], key_hash=hash_api_key(plaintext)
    )
    session.add(record)
    session.flush()
    return NewApiKey(record=record, plaintext=plaintext)


def authenticate_api_key(db: Database, plaintext: str) -> User | None:
    """The key's user, or None. Reads only: its last use is written in the background, at
    most once a minute."""
    if not plaintext.startswith(API_KEY_PREFIX):
        return None
    with db.session(read_only=True) as session:
        found = repository.get_active_key_and_user(session, hash_api_key(plaintext))
        if found is None:
            return None
        key, user = found
        now = utcnow()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            key_touches.record(db, key.id, now)
    return user


def revoke_api_key(session: Session, user: User, key_id: str) -> None:
    for key in repository.list_keys(session, user.id):
        if key.id == key_id:
            key.revoked_at = key.revoked_at or utcnow()
            return
    raise NotFound("No such API key.")
