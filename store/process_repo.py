"""The process repository: request instances and their append-only, hash-chained transitions.

Works inside the caller's session (the unit of work commits once, with any outbox row the change
announces). A transition is computed by processes/engine.py from the latest stored one and appended; the
instance's state follows it. The instance row is locked while a transition is appended (``FOR UPDATE`` on
PostgreSQL; SQLite serialises writers) and its version column makes a concurrent writer fail rather than
fork the chain; (instance, seq) is unique as a last guard. Stored transitions are never updated or deleted:
the ORM refuses it, and ``verify`` finds an edit made behind its back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.ids import B24ElementId
from processes.catalog import ProcessEntry
from processes.engine import ChainBreak, Event, Transition, transition, verify_chain
from store.models import ProcessInstance, ProcessTransition


class AppendOnlyViolation(RuntimeError):
    """Something tried to change or delete a stored transition."""


@event.listens_for(ProcessTransition, "before_update")
@event.listens_for(ProcessTransition, "before_delete")
def _refuse_rewrite(_mapper: Any, _connection: Any, target: ProcessTransition) -> None:
    raise AppendOnlyViolation(f"transition {target.seq} of instance {target.instance_id} is append-only")


def _record(request_id: str, row: ProcessTransition) -> Transition:
    return Transition(
        request_id=request_id,
        seq=row.seq,
        from_state=row.from_state,
        to_state=row.to_state,
        actor=row.actor,
        reason=row.reason,
        data=dict(row.data or {}),
        at=row.at,
        prev_hash=row.prev_hash,
        row_hash=row.row_hash,
    )


def transition_row(instance_id: int, record: Transition) -> ProcessTransition:
    """The stored row of one history record (append-only: never updated or deleted)."""
    return ProcessTransition(
        instance_id=instance_id,
        seq=record.seq,
        from_state=record.from_state,
        to_state=record.to_state,
        actor=record.actor,
        reason=record.reason,
        data=dict(record.data),
        at=record.at,
        prev_hash=record.prev_hash,
        row_hash=record.row_hash,
    )


class ProcessRepository:
    """Requests by their id (the bridge's UUID, also sent to 1C as ``requestId``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, request_id: str, *, lock: bool = False) -> ProcessInstance | None:
        query = select(ProcessInstance).where(ProcessInstance.request_id == request_id)
        if lock:
            query = query.with_for_update()
        return self.session.scalar(query)

    def open(
        self,
        entry: ProcessEntry,
        *,
        request_id: str,
        event: Event,
        at: datetime,
        person_ref: str | None = None,
        site_ref: str | None = None,
        data: dict[str, Any] | None = None,
        b24_element_id: B24ElementId | None = None,
        b24_workflow_id: str | None = None,
    ) -> Transition:
        """A new request with its first transition (``receive``); returns that transition."""
        record = transition(entry, request_id, None, event, at)
        instance = ProcessInstance(
            request_id=request_id,
            kind=entry.code,
            person_ref=person_ref,
            site_ref=site_ref,
            state=record.to_state,
            data=dict(data or {}),
            b24_element_id=b24_element_id,
            b24_workflow_id=b24_workflow_id,
            created_at=at,
            updated_at=at,
        )
        self.session.add(instance)
        self.session.flush()
        self._append(instance, record)
        return record

    def apply(self, entry: ProcessEntry, request_id: str, event: Event, at: datetime) -> Transition:
        """Move a request on by ``event``: the engine decides, the transition is appended, the state set.

        Raises KeyError for an unknown request and IllegalTransition (from the engine) when the event does
        not fit; nothing is written then.
        """
        instance = self.get(request_id, lock=True)
        if instance is None:
            raise KeyError(request_id)
        if instance.kind != entry.code:
            raise ValueError(f"request {request_id} is a {instance.kind}, not a {entry.code}")
        last = self.session.scalar(
            select(ProcessTransition)
            .where(ProcessTransition.instance_id == instance.id)
            .order_by(ProcessTransition.seq.desc())
            .limit(1)
        )
        record = transition(entry, request_id, _record(request_id, last) if last else None, event, at)
        self._append(instance, record)
        instance.state = record.to_state
        instance.updated_at = at
        self.session.flush()
        return record

    def _append(self, instance: ProcessInstance, record: Transition) -> None:
        self.session.add(transition_row(instance.id, record))
        self.session.flush()

    def history(self, request_id: str) -> list[Transition]:
        """Every transition of a request, oldest first (empty for an unknown request)."""
        rows = self.session.scalars(
            select(ProcessTransition)
            .join(ProcessInstance, ProcessInstance.id == ProcessTransition.instance_id)
            .where(ProcessInstance.request_id == request_id)
            .order_by(ProcessTransition.seq)
        )
        return [_record(request_id, row) for row in rows]

    def verify(self, request_id: str) -> ChainBreak | None:
        """None when the stored history is intact and ends in the instance's state."""
        history = self.history(request_id)
        broken = verify_chain(request_id, history)
        if broken is not None:
            return broken
        instance = self.get(request_id)
        if instance is not None and history and instance.state != history[-1].to_state:
            return ChainBreak(history[-1].seq, f"the request says {instance.state!r}, its history does not")
        return None
