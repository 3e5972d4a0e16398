"""The outbox repository: writes still to be delivered (to Bitrix24, 1C or a messaging gateway).

A change and the message announcing it are written in one transaction (the unit of work's), so a
message exists exactly when its change was committed; a sender delivers pending rows later and marks
them. ``dedup_key`` is unique: adding the same message twice keeps the first. Workers ``claim`` rows
(row locks plus a lease, so two workers never hold one row) and settle them: sent, retried later, or
dead-lettered (``failed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
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

    def claim(
        self, target: str, *, lease: timedelta, limit: int = 20, now: datetime | None = None
    ) -> list[Pending]:
        """Take up to ``limit`` due rows for this worker alone; each comes back with its attempt number.

        One ``WITH chosen AS MATERIALIZED (SELECT … LIMIT n FOR UPDATE SKIP LOCKED) UPDATE … WHERE id IN
        chosen``: on PostgreSQL a second worker skips the rows this one locked; SQLite runs the statement as
        one serialised write. The choice must be a materialised CTE: as a plain ``IN (subquery)`` PostgreSQL
        may re-run the subquery per candidate row, and each run skips the rows the previous ones locked, so
        the LIMIT bounded nothing (every due row was claimed). A claimed row is
        ``sending`` until ``next_attempt_at`` (its lease); a worker that died leaves it due again then.
        ``attempts`` is the fence: only the claim holding the current number may settle the row.
        """
        now = now or utcnow()
        due = (OutboxMessage.next_attempt_at.is_(None)) | (OutboxMessage.next_attempt_at <= now)
        chosen = (
            select(OutboxMessage.id)
            .where(OutboxMessage.target == target, OutboxMessage.status.in_(("pending", "sending")))
            .where(due)
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        cte = chosen.cte("chosen")
        if self.session.get_bind().dialect.name == "postgresql":
            cte = cte.prefix_with("MATERIALIZED")
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(select(cte.c.id)))
            .where(OutboxMessage.status.in_(("pending", "sending")), due)
            .values(status="sending", attempts=OutboxMessage.attempts + 1, next_attempt_at=now + lease)
            .returning(
                OutboxMessage.id,
                OutboxMessage.target,
                OutboxMessage.kind,
                OutboxMessage.dedup_key,
                OutboxMessage.payload,
                OutboxMessage.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        rows = self.session.execute(statement).all()
        return sorted((Pending(r[0], r[1], r[2], r[3], dict(r[4]), r[5]) for r in rows), key=lambda p: p.id)

    def _settle(self, claimed: Pending, **values: Any) -> bool:
        """Settle a claimed row; False when the claim is stale (the lease ran out and another took it)."""
        result = self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == claimed.id,
                OutboxMessage.status == "sending",
                OutboxMessage.attempts == claimed.attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def settle_sent(self, claimed: Pending) -> bool:
        return self._settle(claimed, status="sent", sent_at=utcnow(), last_error=None)

    def retry_later(self, claimed: Pending, at: datetime, error: str) -> bool:
        """Back to ``pending``, due at ``at``; ``error`` is a code or class name, never personal data."""
        return self._settle(claimed, status="pending", next_attempt_at=at, last_error=error[:500])

    def dead_letter(self, claimed: Pending, error: str) -> bool:
        """Given up: ``failed`` until an operator retries it (``requeue``)."""
        return self._settle(claimed, status="failed", next_attempt_at=None, last_error=error[:500])

    def requeue(self, message_id: int) -> bool:
        """An operator's retry of a dead-lettered row: due now, attempts counted afresh."""
        result = self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def counts(self, target: str | None = None) -> dict[str, int]:
        """Rows per status (for ``status``, the admin API and the outbox-depth metric)."""
        query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        if target is not None:
            query = query.where(OutboxMessage.target == target)
        return {row[0]: row[1] for row in self.session.execute(query)}
