"""Read-only queries of the service's operational surface: the gauges of ``/metrics`` (inbox, outbox,
Bitrix24 budget) and the admin API's views of process instances and dead-lettered deliveries.

Each function takes the caller's session and changes nothing; what to make of the rows (deadlines from
the process catalog, the budget's drain) is decided above the store.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.models import InboxMessage, OutboxMessage, ProcessInstance, RateBudget


@dataclass(frozen=True)
class InboxBacklog:
    source: str
    pending: int
    oldest_received_at: datetime | None


@dataclass(frozen=True)
class BudgetRow:
    portal: str
    level: float
    updated_at: datetime


@dataclass(frozen=True)
class InstanceRow:
    request_id: str
    kind: str
    state: str
    person_ref: str | None
    site_ref: str | None
    b24_element_id: int | None
    b24_workflow_id: str | None
    onec_document: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    target: str
    kind: str
    status: str
    attempts: int
    last_error: str | None
    request_id: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


def inbox_backlog(session: Session) -> list[InboxBacklog]:
    """Per source: messages not processed yet and when the oldest of them arrived."""
    query = (
        select(InboxMessage.source, func.count(), func.min(InboxMessage.received_at))
        .where(InboxMessage.processed_at.is_(None))
        .group_by(InboxMessage.source)
    )
    return [InboxBacklog(row[0], int(row[1]), row[2]) for row in session.execute(query)]


def outbox_depth(session: Session) -> dict[tuple[str, str], int]:
    """Outbox rows per (target, status)."""
    query = select(OutboxMessage.target, OutboxMessage.status, func.count()).group_by(
        OutboxMessage.target, OutboxMessage.status
    )
    return {(row[0], row[1]): int(row[2]) for row in session.execute(query)}


def budget_rows(session: Session) -> list[BudgetRow]:
    """The shared Bitrix24 request buckets as last written (the caller drains them to now)."""
    query = select(RateBudget.portal, RateBudget.level, RateBudget.updated_at)
    return [BudgetRow(row[0], float(row[1]), row[2]) for row in session.execute(query)]


def _instance(row: ProcessInstance) -> InstanceRow:
    return InstanceRow(
        row.request_id,
        row.kind,
        row.state,
        row.person_ref,
        row.site_ref,
        row.b24_element_id,
        row.b24_workflow_id,
        row.onec_document,
        row.created_at,
        row.updated_at,
    )


def list_instances(
    session: Session, *, kind: str | None, state: str | None, limit: int, offset: int
) -> tuple[int, list[InstanceRow]]:
    """One page of process instances (newest first) and how many match in all."""
    where = []
    if kind is not None:
        where.append(ProcessInstance.kind == kind)
    if state is not None:
        where.append(ProcessInstance.state == state)
    total = session.scalar(select(func.count()).select_from(ProcessInstance).where(*where)) or 0
    rows = session.scalars(
        select(ProcessInstance).where(*where).order_by(ProcessInstance.id.desc()).limit(limit).offset(offset)
    )
    return int(total), [_instance(r) for r in rows]


def instance(session: Session, request_id: str) -> InstanceRow | None:
    row = session.scalar(select(ProcessInstance).where(ProcessInstance.request_id == request_id))
    return _instance(row) if row is not None else None


def quiet_instances(
    session: Session, *, before: datetime, excluding: Collection[str], kinds: Collection[str]
) -> list[InstanceRow]:
    """Instances of ``kinds`` whose last transition is older than ``before`` and whose state is not in
    ``excluding`` (the terminal ones): the candidates for "stalled", oldest first."""
    rows = session.scalars(
        select(ProcessInstance)
        .where(
            ProcessInstance.updated_at < before,
            ProcessInstance.state.not_in(list(excluding)),
            ProcessInstance.kind.in_(list(kinds)),
        )
        .order_by(ProcessInstance.updated_at)
    )
    return [_instance(r) for r in rows]


def _request_of(row: OutboxMessage) -> str | None:
    """The request a delivery belongs to: its payload's ``request_id``, else the third part of its key
    (processes key their rows ``<target>:<kind>:<request id>[:<seq>]``)."""
    payload: dict[str, Any] = row.payload if isinstance(row.payload, dict) else {}
    found = payload.get("request_id")
    if isinstance(found, str):
        return found
    parts = row.dedup_key.split(":")
    return parts[2] if len(parts) >= 3 else None


def _delivery(row: OutboxMessage) -> DeliveryRow:
    return DeliveryRow(
        row.id,
        row.target,
        row.kind,
        row.status,
        row.attempts,
        row.last_error,
        _request_of(row),
        row.created_at,
        row.next_attempt_at,
        row.sent_at,
    )


def deliveries_of(session: Session, request_id: str) -> list[DeliveryRow]:
    """Every outbox row of one request (by its key), oldest first."""
    suffix = ":" + request_id
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            or_(
                OutboxMessage.dedup_key.endswith(suffix, autoescape=True),
                OutboxMessage.dedup_key.contains(suffix + ":", autoescape=True),
            )
        )
        .order_by(OutboxMessage.id)
    )
    return [d for d in map(_delivery, rows) if d.request_id == request_id]


def delivery(session: Session, message_id: int) -> DeliveryRow | None:
    row = session.get(OutboxMessage, message_id)
    return _delivery(row) if row is not None else None


def dead_letters(session: Session, limit: int) -> list[DeliveryRow]:
    """Dead-lettered outbox rows (``failed``: given up until an operator retries), oldest first."""
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "failed").order_by(OutboxMessage.id).limit(limit)
    )
    return [_delivery(r) for r in rows]
