"""The outbox repository: writes still to be delivered (to Bitrix24, 1C or a messaging gateway).

A change and the message announcing it are written in one transaction (the unit of work's), so a
message exists exactly when its change was committed; a sender delivers pending rows later and marks
them. ``dedup_key`` is unique: adding the same message twice keeps the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.clock import utcnow
from store.models import OutboxMessage


@dataclass(frozen=True)
class Pending:
    id: int
    target: str
    kind: str
    dedup_key: str
    payload: dict[str, Any]
    attempts: int


class Outbox:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, target: str, kind: str, dedup_key: str, payload: dict[str, Any]) -> bool:
        """Queue a message in the caller's transaction; False if one with this key exists already."""
        values = {
            "target": target,
            "kind": kind,
            "dedup_key": dedup_key[:200],
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "created_at": utcnow(),
        }
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(OutboxMessage)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(OutboxMessage.id)
        )
        return self.session.execute(statement).scalar_one_or_none() is not None

    def pending(self, target: str, limit: int = 100) -> list[Pending]:
        now = utcnow()
        rows = self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.target == target, OutboxMessage.status == "pending")
            .where((OutboxMessage.next_attempt_at.is_(None)) | (OutboxMessage.next_attempt_at <= now))
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [Pending(r.id, r.target, r.kind, r.dedup_key, dict(r.payload), r.attempts) for r in rows]

    def mark_sent(self, message_id: int) -> None:
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status="sent", sent_at=utcnow())
        )
