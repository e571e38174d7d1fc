"""An API key's last use is written in the background: at most once a minute, never lost to a
failed write, and never by the request itself."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import sqlalchemy as sa

from image2ad.auth import key_touches
from image2ad.auth import service as auth
from image2ad.db import Database
from image2ad.models import ApiKey
from image2ad.models.base import utcnow
from tests.fixtures.factories import create_user


def last_used(db: Database, user_id: str) -> ApiKey:
    with db.session(read_only=True) as session:
        return session.scalars(sa.select(ApiKey).where(ApiKey.user_id == user_id)).one()


def test_first_use_is_recorded_and_a_second_within_the_minute_is_not(db: Database) -> None:
    user = create_user(db)
    assert auth.authenticate_api_key(db, user.api_key) is not None
    key_touches.wait_written()
    first = last_used(db, user.id).last_used_at
    assert first is not None

    assert auth.authenticate_api_key(db, user.api_key) is not None
    key_touches.wait_written()
    assert last_used(db, user.id).last_used_at == first


def test_a_use_after_a_minute_is_recorded_again(db: Database) -> None:
    user = create_user(db)
    auth.authenticate_api_key(db, user.api_key)
    key_touches.wait_written()
    long_ago = utcnow() - timedelta(minutes=5)
    with db.session() as session:
        session.execute(
            sa.update(ApiKey).where(ApiKey.user_id == user.id).values(last_used_at=long_ago)
        )
    auth.authenticate_api_key(db, user.api_key)
    key_touches.wait_written()
    again = last_used(db, user.id).last_used_at
    assert again is not None and again > long_ago


def test_the_request_does_not_wait_for_the_write(db: Database) -> None:
    user = create_user(db)
    with mock.patch.object(key_touches, "_writer") as writer:
        assert auth.authenticate_api_key(db, user.api_key) is not None
        writer.submit.assert_called_once()
        assert last_used(db, user.id).last_used_at is None
        # Recorded once: more uses before it is written queue nothing more.
        auth.authenticate_api_key(db, user.api_key)
        writer.submit.assert_called_once()
        writer.submit.call_args.args[0]()
    assert last_used(db, user.id).last_used_at is not None


def test_a_failed_write_is_logged_and_retried_at_the_next_use(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    user = create_user(db)
    with mock.patch.object(key_touches.repository, "touch_key", side_effect=RuntimeError("x")):
        auth.authenticate_api_key(db, user.api_key)
        key_touches.wait_written()
    assert "could not record API key use" in caplog.text
    assert last_used(db, user.id).last_used_at is None

    auth.authenticate_api_key(db, user.api_key)
    key_touches.wait_written()
    assert last_used(db, user.id).last_used_at is not None


def test_an_unknown_key_records_nothing(db: Database) -> None:
    with mock.patch.object(key_touches, "record") as record:
        assert auth.authenticate_api_key(db, auth.API_KEY_PREFIX + "nope") is None
    record.assert_not_called()
