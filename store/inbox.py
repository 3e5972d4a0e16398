"""The inbox: every event or callback received, under its unique key, so a redelivery is recognised."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.db import utcnow
from store.models import InboxMessage


def receive(
    sessions: sessionmaker[Session], source: str, key: str, kind: str, payload: dict[str, Any]
) -> bool:
    """Store a message; False when the same (source, key) was already received (a redelivery)."""
    try:
        with sessions.begin() as session:
            if session.scalar(
                select(InboxMessage.id).where(InboxMessage.source == source, InboxMessage.event_key == key)
            ):
                return False
            session.add(
                InboxMessage(
                    source=source, event_key=key[:200], kind=kind, payload=payload, received_at=utcnow()
                )
            )
    except IntegrityError:
        return False  # a concurrent delivery of the same message won the insert
    return True


def mark_processed(sessions: sessionmaker[Session], source: str, key: str, error: str | None = None) -> None:
    with sessions.begin() as session:
        row = session.scalar(
            select(InboxMessage).where(InboxMessage.source == source, InboxMessage.event_key == key)
        )
        if row is not None:
            row.processed_at = utcnow()
            row.error = error
