"""The inbox repository: the SQL of received messages, inside the caller's transaction (the unit of
work's). store/inbox.py builds the receiving and the dispatching on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.db import utcnow
from store.models import InboxMessage


class Inbox:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, source: str, key: str, kind: str, payload: Mapping[str, Any]) -> bool:
        """Store a message; False when the same (source, key) is there already (a redelivery)."""
        return self.add_many([(source, key, kind, payload)])[0]

    def add_many(self, messages: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> list[bool]:
        """Store several ``(source, key, kind, payload)`` in one statement; per message False when its
        (source, key) is there already or earlier in ``messages``.

        ``INSERT … ON CONFLICT (source, event_key) DO NOTHING RETURNING`` (SQLite ≥ 3.35, PostgreSQL): the
        unique index decides, so a key another instance stores at the same moment is a duplicate here,
        never an error, and there is no separate read of the keys."""
        rows: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        now = utcnow()
        for source, key, kind, payload in messages:
            if (source, key) not in seen:
                seen.add((source, key))
                row = {"source": source, "event_key": key, "kind": kind, "payload": dict(payload)}
                rows.append({**row, "received_at": now})
        connection = self.session.connection()
        stored = {(row[0], row[1]) for row in connection.execute(_insert_new(connection.dialect.name), rows)}
        fresh: list[bool] = []
        for source, key, _, _ in messages:
            fresh.append((source, key) in stored)
            stored.discard((source, key))  # the same key again in this batch is the redelivery
        return fresh

    def pending_ids(self, source: str, limit: int) -> list[int]:
        query = (
            select(InboxMessage.id)
            .where(InboxMessage.source == source, InboxMessage.processed_at.is_(None))
            .order_by(InboxMessage.id)
            .limit(limit)
        )
        return list(self.session.scalars(query).all())

    def pending_rows(self, source: str, limit: int) -> list[InboxMessage]:
        query = (
            select(InboxMessage)
            .where(InboxMessage.source == source, InboxMessage.processed_at.is_(None))
            .order_by(InboxMessage.id)
            .limit(limit)
        )
        return list(self.session.scalars(query).all())

    def closed_with_error(self, source: str, limit: int = 200) -> list[InboxMessage]:
        """Messages whose handler failed for good (``dispatch`` closed them with the error)."""
        query = (
            select(InboxMessage)
            .where(
                InboxMessage.source == source,
                InboxMessage.processed_at.is_not(None),
                InboxMessage.error.is_not(None),
            )
            .order_by(InboxMessage.id)
            .limit(limit)
        )
        return list(self.session.scalars(query).all())

    def claim(self, message_id: int) -> InboxMessage | None:
        """Mark a pending message processed (committed with its handler's work); None if another took it."""
        claimed = self.session.execute(
            update(InboxMessage)
            .where(InboxMessage.id == message_id, InboxMessage.processed_at.is_(None))
            .values(processed_at=utcnow(), error=None)
        )
        if not getattr(claimed, "rowcount", 0):
            return None
        return self.session.get(InboxMessage, message_id)

    def fail(self, message_id: int, reason: str, *, final: bool) -> None:
        """Record a handler's failure; a final one closes the message, a transient one leaves it pending."""
        row = self.session.get(InboxMessage, message_id)
        if row is not None and row.processed_at is None:
            row.error = reason
            if final:
                row.processed_at = utcnow()

    def prune(self, processed_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` messages handled before ``processed_before``; returns how many. Pending
        ones are never deleted, however old."""
        chosen = (
            select(InboxMessage.id)
            .where(InboxMessage.processed_at.is_not(None), InboxMessage.processed_at < processed_before)
            .order_by(InboxMessage.id)
            .limit(limit)
        )
        ids = list(self.session.scalars(chosen))
        if ids:
            self.session.execute(delete(InboxMessage).where(InboxMessage.id.in_(ids)))
        return len(ids)

    def pending(self, source: str) -> int:
        query = select(func.count()).where(InboxMessage.source == source, InboxMessage.processed_at.is_(None))
        return int(self.session.scalar(query) or 0)


@cache
def _insert_new(dialect: str) -> Any:
    """The batch insert that skips keys already stored and returns the ones it stored."""
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = build(InboxMessage).on_conflict_do_nothing(index_elements=["source", "event_key"])
    return statement.returning(InboxMessage.source, InboxMessage.event_key)
