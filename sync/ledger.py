"""The run ledger: each sync run and its plan items, stored like a load package (style brief §1).

A run moves planned → applying → committed, or → aborted when Bitrix24 refuses the bridge itself (an
aborted run is open: the next sync resumes it); each item pending → started → done | failed |
quarantined, with an attempt count. `sync` finishes an unfinished run before it asks 1C for more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.clock import utcnow
from core.errors import SyncError
from store.models import PlanItem, SyncRun
from sync.model import OPEN_RUNS, RunStatus
from sync.operations import Operation, UnknownOperation, decode

TRunMode = Literal["full", "incremental", "due", "reconcile"]
TItemState = Literal["pending", "started", "done", "failed", "quarantined"]


def start_run(
    session: Session,
    mode: TRunMode,
    operations: Sequence[Operation],
    *,
    message_no: int | None,
    stats: dict[str, Any],
) -> int:
    run = SyncRun(
        mode=mode,
        status=RunStatus.PLANNED.value,
        started_at=utcnow(),
        onec_message_no=message_no,
        stats=stats,
    )
    session.add(run)
    session.flush()
    add_items(session, run.id, operations)
    return run.id


def add_items(session: Session, run_id: int, operations: Sequence[Operation], first_seq: int = 0) -> None:
    """Store operations as pending plan items, numbered in plan order from ``first_seq``."""
    now = utcnow()
    rows = [
        {
            "run_id": run_id,
            "seq": seq,
            "op": o.op,
            "kind": o.kind,
            "source_ref": o.ref,
            "payload": o.payload,
            "state": "pending",
            "attempts": 0,
            "updated_at": now,
        }
        for seq, o in enumerate(operations, start=first_seq)
    ]
    for start in range(0, len(rows), 2000):
        session.execute(insert(PlanItem), rows[start : start + 2000])


def unfinished_run(session: Session) -> SyncRun | None:
    return session.scalar(
        select(SyncRun).where(SyncRun.status.in_([s.value for s in OPEN_RUNS])).order_by(SyncRun.id).limit(1)
    )


@dataclass(frozen=True)
class Item:
    """A plan item as apply sees it (detached from the session): its id, place and typed operation."""

    id: int
    seq: int
    operation: Operation
    started_before: bool
    """True when a previous attempt started and its outcome is unknown: check before re-sending."""

    @property
    def op(self) -> str:
        return self.operation.op

    @property
    def kind(self) -> str:
        return self.operation.kind

    @property
    def ref(self) -> str:
        return self.operation.ref


def open_items(
    session: Session, run_id: int, ops: Iterable[str], *, after_seq: int = -1, limit: int | None = None
) -> list[Item]:
    """Pending or started items of these operations, in plan order, after ``after_seq``."""
    columns = (PlanItem.id, PlanItem.seq, PlanItem.op, PlanItem.kind, PlanItem.source_ref, PlanItem.payload)
    query = (
        select(*columns, PlanItem.state)
        .where(
            PlanItem.run_id == run_id,
            PlanItem.op.in_(list(ops)),
            PlanItem.state.in_(("pending", "started")),
            PlanItem.seq > after_seq,
        )
        .order_by(PlanItem.seq)
        .limit(limit)
    )
    items: list[Item] = []
    for i, seq, op, kind, ref, payload, state in session.execute(query):
        try:
            operation = decode(op, kind, ref, payload)
        except (UnknownOperation, TypeError) as exc:
            raise SyncError(
                f"plan item {i} of run {run_id} cannot be read ({exc}); it was not applied"
            ) from exc
        items.append(Item(i, seq, operation, state == "started"))
    return items


def set_status(session: Session, run_id: int, status: RunStatus, **stats: Any) -> None:
    run = session.get(SyncRun, run_id)
    if run is None:
        return
    run.status = status.value
    if stats:
        run.stats = {**(run.stats or {}), **stats}
    run.finished_at = utcnow() if status in (RunStatus.COMMITTED, RunStatus.ABORTED) else None


def mark(session: Session, item_ids: Iterable[int], state: TItemState, *, error: str | None = None) -> None:
    ids = list(item_ids)
    if not ids:
        return
    values: dict[str, Any] = {"state": state, "updated_at": utcnow()}
    if state == "started":
        values["attempts"] = PlanItem.attempts + 1
    if error is not None:
        values["error"] = error[:2000]
    session.execute(update(PlanItem).where(PlanItem.id.in_(ids)).values(**values))
