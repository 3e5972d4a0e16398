"""Attempts counted in the store, so that every instance of the service shares one moving window.

``hit`` records an attempt when fewer than ``limit`` were recorded in the last ``window`` for the key,
else records nothing and says when the oldest of them leaves the window. Two instances counting the
same key are serialised: on PostgreSQL by a transaction-scoped advisory lock on the key, on SQLite by
the write lock the first statement (the clean-up delete) takes. Keys are hashes chosen by the caller,
never an address.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.models import Base


class RateLimitHit(Base):
    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_scope_key_at", "scope", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


def hit(
    session: Session, scope: str, key: str, *, limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """Count one attempt: None when it is allowed (and recorded), else when the next one will be."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{scope}:{key}"))))
    # Expired attempts of every key go: the table holds at most one window of attempts.
    session.execute(
        delete(RateLimitHit).where((RateLimitHit.scope == scope) & (RateLimitHit.at <= now - window))
    )
    mine = (RateLimitHit.scope == scope) & (RateLimitHit.key == key)
    recent = session.scalars(select(RateLimitHit.at).where(mine).order_by(RateLimitHit.at)).all()
    if len(recent) >= limit:
        return recent[0] + window
    session.add(RateLimitHit(scope=scope, key=key, at=now))
    return None
