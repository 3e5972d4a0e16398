"""Job leases: which instance runs a scheduled job right now (the ``job_leases`` table, one row per job).

With several bridge instances on one database each scheduled job must run once. A run first
``acquire``s the lease named after the job; the row says who holds it and until when. Taking it is
one statement, atomic on both supported databases:

    INSERT INTO job_leases (name, holder, expires_at) VALUES (…)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE job_leases.expires_at <= :now OR job_leases.holder = excluded.holder
    RETURNING holder

PostgreSQL re-checks the WHERE on the latest row version after a concurrent writer commits, and SQLite
serialises writers, so among racing callers exactly one gets a row back. A crashed holder's lease
simply expires. All times are UTC; the clock is injectable for tests. This module owns nothing else:
no scheduling (webhooks/scheduler.py) and no run history.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, Update, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, utcnow
from core.errors import StoreError
from store.models import JobLease


@dataclass(frozen=True)
class LeaseInfo:
    """A lease row as read back (for status displays)."""

    name: str
    holder: str
    expires_at: datetime


def _check(name: str, holder: str, ttl: timedelta | None = None) -> None:
    if not name or len(name) > 64:
        raise ValueError("a lease name is 1-64 characters")
    if not holder or len(holder) > 128:
        raise ValueError("a lease holder is 1-128 characters")
    if ttl is not None and ttl <= timedelta(0):
        raise ValueError("a lease ttl must be positive")


def acquire(
    sessions: sessionmaker[Session], name: str, holder: str, ttl: timedelta, *, clock: Clock = utcnow
) -> bool:
    """Take (or extend) the lease ``name`` for ``ttl`` if it is free, expired or already ours."""
    _check(name, holder, ttl)
    now = clock()
    values = {"name": name, "holder": holder, "expires_at": now + ttl}
    try:
        with sessions() as session, session.begin():
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                pg = postgresql.insert(JobLease).values(**values)
                statement = pg.on_conflict_do_update(
                    index_elements=[JobLease.name],
                    set_={"holder": pg.excluded.holder, "expires_at": pg.excluded.expires_at},
                    where=(JobLease.expires_at <= now) | (JobLease.holder == pg.excluded.holder),
                ).returning(JobLease.holder)
            elif dialect == "sqlite":
                lite = sqlite.insert(JobLease).values(**values)
                statement = lite.on_conflict_do_update(
                    index_elements=[JobLease.name],
                    set_={"holder": lite.excluded.holder, "expires_at": lite.excluded.expires_at},
                    where=(JobLease.expires_at <= now) | (JobLease.holder == lite.excluded.holder),
                ).returning(JobLease.holder)
            else:  # pragma: no cover - the store supports these two only
                raise StoreError(f"job leases are not implemented for {dialect}")
            won = session.execute(statement).scalar_one_or_none()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot take the job lease ({type(exc).__name__})", internal=str(exc)) from exc
    return won == holder


def renew(
    sessions: sessionmaker[Session], name: str, holder: str, ttl: timedelta, *, clock: Clock = utcnow
) -> bool:
    """Push our lease's expiry to now + ``ttl``; False if someone else holds it (or nobody does)."""
    _check(name, holder, ttl)
    now = clock()
    statement = (
        update(JobLease).where(JobLease.name == name, JobLease.holder == holder).values(expires_at=now + ttl)
    )
    return _changed(sessions, statement, "renew")


def release(
    sessions: sessionmaker[Session],
    name: str,
    holder: str,
    *,
    hold_until: datetime | None = None,
) -> bool:
    """Give our lease up: delete it, or with ``hold_until`` keep it until then (a cool-down that stops
    another instance from re-running the same tick). False if it was not ours any more."""
    _check(name, holder)
    statement: Update | Delete
    if hold_until is None:
        statement = delete(JobLease).where(JobLease.name == name, JobLease.holder == holder)
    else:
        statement = (
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(expires_at=hold_until)
        )
    return _changed(sessions, statement, "release")


def _changed(sessions: sessionmaker[Session], statement: Update | Delete, what: str) -> bool:
    try:
        with sessions() as session, session.begin():
            result = session.execute(statement)
            return isinstance(result, CursorResult) and result.rowcount == 1
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot {what} the job lease ({type(exc).__name__})", internal=str(exc)) from exc


def current(sessions: sessionmaker[Session], name: str) -> LeaseInfo | None:
    """The lease row for ``name`` as stored (possibly expired), or None."""
    with sessions() as session:
        row = session.execute(select(JobLease).where(JobLease.name == name)).scalar_one_or_none()
        if row is None:
            return None
        return LeaseInfo(name=row.name, holder=row.holder, expires_at=row.expires_at)


@contextmanager
def lease(
    sessions: sessionmaker[Session], name: str, holder: str, ttl: timedelta, *, clock: Clock = utcnow
) -> Iterator[bool]:
    """``with lease(...) as held:`` — True if we took the lease; released on exit if we did."""
    held = acquire(sessions, name, holder, ttl, clock=clock)
    try:
        yield held
    finally:
        if held:
            release(sessions, name, holder)


def take_over(
    sessions: sessionmaker[Session],
    name: str,
    old_holder: str,
    holder: str,
    ttl: timedelta,
    *,
    clock: Clock = utcnow,
) -> bool:
    """Take ``name`` from ``old_holder`` (known dead) if it still holds it; one atomic UPDATE."""
    _check(name, holder, ttl)
    statement = (
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == old_holder)
        .values(holder=holder, expires_at=clock() + ttl)
    )
    return _changed(sessions, statement, "take over")
