"""The inbox repository: the SQL of received messages, inside the caller's transaction (the unit of
work's). store/inbox.py builds the receiving and the dispatching on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from store.db import utcnow
from store.models import InboxMessage


class Inbox:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, source: str, key: str, kind: str, payload: Mapping[str, Any]) -> bool:
        """Store a message; False when the same (source, key) is there already (a redelivery)."""
        found = select(InboxMessage.id).where(InboxMessage.source == source, InboxMessage.event_key == key)
        if self.session.scalar(found):
            return False
        self.session.add(
            InboxMessage(source=source, event_key=key, kind=kind, payload=dict(payload), received_at=utcnow())
        )
        return True

    def add_many(self, messages: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> list[bool]:
        """Store several ``(source, key, kind, payload)`` at once (one read of the keys, one insert); per
        message False when its (source, key) is there already or earlier in ``messages``."""
        sources = {source for source, _, _, _ in messages}
        wanted = {key for _, key, _, _ in messages}
        # Both columns named, so the lookup is a probe of the unique index (source, event_key), not a scan
        # of an inbox that only grows. Run as Core on the session's connection: no ORM work per row.
        query = select(InboxMessage.source, InboxMessage.event_key).where(
            InboxMessage.source.in_(sources), InboxMessage.event_key.in_(wanted)
        )
        known = {(row[0], row[1]) for row in self.session.connection().execute(query)}
        fresh: list[bool] = []
        rows: list[dict[str, Any]] = []
        now = utcnow()
        for source, key, kind, payload in messages:
            new = (source, key) not in known
            known.add((source, key))
            fresh.append(new)
            if new:
                row = {"source": source, "event_key": key, "kind": kind, "payload": dict(payload)}
                rows.append({**row, "received_at": now})
        if rows:  # on the connection, as Core: the ORM bulk path costs more CPU per row than the commit
            self.session.connection().execute(insert(InboxMessage), rows)
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
