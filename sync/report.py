"""What `status` shows: recent runs, change-feed position and lag, due-at rows, quarantine, data-quality
warnings (persons mirrored with a field left empty), invitations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import utcnow
from store.models import ChangeFeedCursor, DueChange, Invitation, QuarantineRecord, SyncRun
from sync.diff import WARNING_KIND
from sync.state import FEED_NODE


@dataclass(frozen=True)
class StatusReport:
    runs: list[dict[str, Any]]
    feed_message_no: int
    feed_committed_at: datetime | None
    feed_lag_seconds: float | None
    due_pending: int
    next_due_on: str | None
    quarantine: dict[str, int]
    invitations: dict[str, int]
    warnings: dict[str, int]
    """Open data-quality warnings by code (e.g. ``unusable_phone``): mirrored, the field left empty."""


def status(session: Session, last_runs: int = 5) -> StatusReport:
    runs = [
        {
            "id": run.id,
            "mode": run.mode,
            "status": run.status,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "planned": (run.stats or {}).get("planned", {}),
            "applied": (run.stats or {}).get("applied", {}),
        }
        for run in session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(last_runs))
    ]
    cursor = session.get(ChangeFeedCursor, FEED_NODE)
    committed_at = cursor.updated_at if cursor else None
    lag = (utcnow() - committed_at).total_seconds() if committed_at else None
    due_filter = (DueChange.applied_at.is_(None),)
    due_pending = session.scalar(select(func.count()).select_from(DueChange).where(*due_filter)) or 0
    next_due = session.scalar(select(func.min(DueChange.due_on)).where(*due_filter))
    open_rows = (
        select(QuarantineRecord.kind, QuarantineRecord.reason_code, func.count())
        .where(QuarantineRecord.resolved_at.is_(None))
        .group_by(QuarantineRecord.kind, QuarantineRecord.reason_code)
    )
    quarantine: dict[str, int] = {}
    warnings: dict[str, int] = {}
    for kind, code, count in session.execute(open_rows):
        into = warnings if kind == WARNING_KIND else quarantine
        into[str(code)] = into.get(str(code), 0) + int(count)
    invitations = dict(
        session.execute(
            select(Invitation.channel, func.count())
            .where(Invitation.status == "sent")
            .group_by(Invitation.channel)
        ).all()
    )
    return StatusReport(
        runs=runs,
        feed_message_no=cursor.committed_message_no if cursor else 0,
        feed_committed_at=committed_at,
        feed_lag_seconds=lag,
        due_pending=int(due_pending),
        next_due_on=next_due.isoformat() if next_due else None,
        quarantine=quarantine,
        invitations={str(k): int(v) for k, v in invitations.items()},
        warnings=warnings,
    )
