"""Tables of the portal's notifications (migration 0008): events per recipient, preferences, daily digests.

An event is stored per recipient under a unique key (a redelivered event is one row); a digest is one
row per user and day (the job's idempotency guard). Users are Bitrix24 user ids (integers, core/ids.py).
Regulations and their acknowledgements are store/regulations.py's (the cabinet confirms through it).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class NotificationEvent(Base):
    """Something a user should hear of, waiting for their next digest (``digest_day`` set once sent)."""

    __tablename__ = "portal_notification_events"
    __table_args__ = (
        UniqueConstraint("user_id", "event_key", name="uq_notification_user_key"),
        Index("ix_notification_pending", "user_id", "digest_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    """The recipient's Bitrix24 user id."""
    event_type: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(200))
    site_ref: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    digest_day: Mapped[date | None] = mapped_column(Date)


class NotificationPreference(Base):
    """A user's choice for one event type on one channel (no row: the channel's default)."""

    __tablename__ = "portal_notification_preferences"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime]


class NotificationDigest(Base):
    """The one digest of a user for a day: written with its outbox rows in one transaction."""

    __tablename__ = "portal_notification_digests"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    channels: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
