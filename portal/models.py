"""The portal's own tables (migration 0009): site settings, staff orders, client-contact registrations.

Timesheets live in ``process_instances`` (kind ``timesheet``) and ``process_transitions``; client
managers' site roles in ``client_managers``; people and employments in ``identity_map`` and
``source_records`` — the portal reads those and adds only what has no home yet.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class PortalSite(Base):
    """A client site (1C department) as the portal shows it: client, period kind, approvers."""

    __tablename__ = "portal_sites"

    site_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    client: Mapped[str] = mapped_column(String(255))
    org_ref: Mapped[str] = mapped_column(String(64))
    period_kind: Mapped[str] = mapped_column(String(16), default="month")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """alternate_approvers, provider_managers, deadline_days, remind_before_days."""


class PortalOrder(Base):
    """A staff order or an order change request, with its comments (the provider's answer is the last)."""

    __tablename__ = "portal_orders"

    order_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_ref: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[str] = mapped_column(String(255))
    headcount: Mapped[int] = mapped_column(Integer)
    start: Mapped[date] = mapped_column(Date)
    details: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[int] = mapped_column(Integer)
    """The Bitrix24 user id of the client manager who created it."""
    status: Mapped[str] = mapped_column(String(16))
    answer: Mapped[str | None] = mapped_column(Text)
    changes_order: Mapped[str | None] = mapped_column(String(36))
    comments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]


class PortalRegistration(Base):
    """A client contact asking for access; nothing is granted until a provider manager approves."""

    __tablename__ = "portal_registrations"

    registration_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(255), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[int | None] = mapped_column(Integer)
    """The Bitrix24 user id of the provider manager who decided."""
    site_ref: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))
    """Approved: the site the contact manages and their role there (migration 0007)."""
    created_at: Mapped[datetime]
