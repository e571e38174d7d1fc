"""The ledger on real SQLite and PostgreSQL: one charge, at most one refund, never negative."""

from __future__ import annotations

import concurrent.futures
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from image2ad.credits import repository, service
from image2ad.db import Database
from image2ad.errors import InsufficientCredits, InvalidInput
from image2ad.models import CreditEntry, User
from tests.fixtures.factories import create_user


def balance(db: Database, user_id: str) -> int:
    with db.session(read_only=True) as session:
        return session.get_one(User, user_id).credits


def test_charge_then_refund_once(db: Database) -> None:
    user = create_user(db, credits=3)
    job_id = str(uuid.uuid4())
    with db.session() as session:
        service.charge_for_job(session, user_id=user.id, job_id=job_id, amount=2)
    assert balance(db, user.id) == 1
    for _ in range(3):
        with db.session() as session:
            service.refund_for_job(session, user_id=user.id, job_id=job_id, amount=2)
    assert balance(db, user.id) == 3
    with db.session(read_only=True) as session:
        kinds = sorted(e.kind for e in repository.entries_for_job(session, job_id))
        assert kinds == ["charge", "refund"]
        assert repository.ledger_sum(session, user.id) == 3


def test_short_balance_raises_and_writes_nothing(db: Database) -> None:
    user = create_user(db, credits=1)
    job_id = str(uuid.uuid4())
    with pytest.raises(InsufficientCredits), db.session() as session:
        service.charge_for_job(session, user_id=user.id, job_id=job_id, amount=2)
    assert balance(db, user.id) == 1
    with db.session(read_only=True) as session:
        assert repository.entries_for_job(session, job_id) == []


def test_a_second_charge_for_a_job_is_refused(db: Database) -> None:
    user = create_user(db, credits=5)
    job_id = str(uuid.uuid4())
    with db.session() as session:
        service.charge_for_job(session, user_id=user.id, job_id=job_id, amount=1)
    with pytest.raises(RuntimeError), db.session() as session:
        service.charge_for_job(session, user_id=user.id, job_id=job_id, amount=1)
    assert balance(db, user.id) == 4


def test_racing_charges_never_overdraw(db: Database) -> None:
    """R9 at the service level: 5 credits, 40 concurrent one-credit charges -> exactly 5."""
    user = create_user(db, credits=5)

    def charge(_: int) -> bool:
        try:
            with db.session() as session:
                service.charge_for_job(session, user_id=user.id, job_id=str(uuid.uuid4()), amount=1)
            return True
        except InsufficientCredits:
            return False

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        accepted = sum(pool.map(charge, range(40)))
    assert accepted == 5
    assert balance(db, user.id) == 0
    with db.session(read_only=True) as session:
        assert repository.ledger_sum(session, user.id) == 0


def test_database_refuses_a_negative_balance_and_wrong_signs(db: Database) -> None:
    user = create_user(db, credits=1)
    with pytest.raises(IntegrityError), db.session() as session:
        session.execute(sa.update(User).where(User.id == user.id).values(credits=-1))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(CreditEntry(user_id=user.id, kind="refund", amount=-3))
    with pytest.raises(InvalidInput), db.session() as session:
        service.grant(session, user.id, 0)
