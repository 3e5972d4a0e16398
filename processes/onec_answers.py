"""1C's answers move requests on: ``done`` or ``rejected`` by HR, ``cancelled`` when withdrawn (Отозвано),
the employee told, a certificate kept. A ``withdrawing`` request listens too: HR finishing first ends it.

Two ways in, one rule. ``apply_changes`` takes the ``RequestStatus`` items of a change-feed batch (the
feed's consumer calls it before it commits its ack, so a redelivered batch is harmless); ``poll_submitted``
asks 1C (``GetDocument``) about every ``submitted`` request, for deployments that do not read the feed.
Either way ``apply_status`` records the transition with 1C's reason, and in the same commit queues the
employee's message from the catalog as a Bitrix24 ``im.notify`` outbox row and, for a certificate whose
PDF 1C has produced, the Drive upload of that PDF as another outbox row. A status that does not move the
request (already done, a repeat of "in review", an unknown id) writes nothing.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from typing import Any, Literal

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.onec.port import ChangeBatch, DocumentStatus, OneCPort, RequestStatus
from core.clock import Clock, utcnow
from processes.answers import answer_document
from processes.catalog import Catalog, ProcessEntry
from processes.engine import WITH_1C, Event, EventName, Transition, employee_message
from processes.validation import parse_date
from store.models import ProcessInstance
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

ACTOR = "onec"
B24 = "bitrix24"
NOTIFY = "im.notify"
DRIVE_UPLOAD = "disk.folder.uploadfile"
_EVENTS: dict[str, EventName | None] = {
    "Created": None,
    "InReview": "onec_in_review",
    "Approved": "onec_done",
    "Done": "onec_done",
    "Posted": "onec_done",
    "Rejected": "onec_rejected",
    "Withdrawn": "withdrawn",  # Отозвано: by the bridge's WithdrawRequest, or in 1C at the employee's word
}


def queue_employee_message(
    uow: UnitOfWork, entry: ProcessEntry, instance: ProcessInstance, record: Transition
) -> bool:
    """Queue the catalog's message for this transition as ``im.notify`` (one per transition); False when
    the catalog says nothing. The Bitrix24 sender resolves ``person_ref`` when ``to`` is unknown."""
    text = employee_message(entry, record)
    if text is None:
        return False
    payload = {
        "request_id": record.request_id,
        "to": instance.data.get("b24_user_id"),
        "person_ref": instance.person_ref,
        "message": text,
    }
    return uow.outbox.add(B24, NOTIFY, f"{B24}:{NOTIFY}:{record.request_id}:{record.seq}", payload)


CALENDAR = "calendar.event.add"
CALENDAR_KINDS = frozenset({"Leave"})
"""1C document kinds that are an absence the employee's calendar shows once 1C has it done."""


def queue_calendar_event(uow: UnitOfWork, entry: ProcessEntry, instance: ProcessInstance) -> bool:
    """Queue the absence of a done leave for the employee's Bitrix24 calendar (one per request)."""
    values = (instance.data or {}).get("values") or {}
    op = entry.onec
    if op.kind_for(dict(values)) not in CALENDAR_KINDS or not (op.date_from and op.date_to):
        return False
    start, end = parse_date(values.get(op.date_from)), parse_date(values.get(op.date_to))
    if start is None or end is None:
        return False
    payload = {
        "request_id": instance.request_id,
        "to": instance.data.get("b24_user_id"),
        "person_ref": instance.person_ref,
        "name": entry.title,
        "date_from": start.isoformat(),
        "date_to": end.isoformat(),
    }
    return uow.outbox.add(B24, CALENDAR, f"{B24}:{CALENDAR}:{instance.request_id}", payload)


CALENDAR_MOVE = "calendar.event.update"
CALENDAR_REMOVE = "calendar.event.delete"
CALENDAR_CHANGES = {"LeaveTransfer": CALENDAR_MOVE, "LeaveCancel": CALENDAR_REMOVE}
"""1C document kinds that move or remove the calendar event of the leave they name (``original_request``)."""


def queue_calendar_change(
    uow: UnitOfWork, catalog: Catalog, entry: ProcessEntry, instance: ProcessInstance
) -> bool:
    """A done transfer or cancellation of a leave: queue the move (new dates) or the removal of the event
    the original leave put in the employee's calendar (one per request). The original must be the same
    employee's leave; its dates bound where the sender looks for the event."""
    values = (instance.data or {}).get("values") or {}
    kind = CALENDAR_CHANGES.get(entry.onec.kind_for(dict(values)) or "")
    original = uow.processes.get(str(values.get("original_request") or ""))
    if kind is None or original is None or original.person_ref != instance.person_ref:
        return False
    was, op = (original.data or {}).get("values") or {}, catalog.entry(original.kind).onec
    if op.kind_for(dict(was)) not in CALENDAR_KINDS:
        return False
    old = [parse_date(was.get(op.date_from or "")), parse_date(was.get(op.date_to or ""))]
    new = [
        parse_date(values.get(entry.onec.date_from or "")),
        parse_date(values.get(entry.onec.date_to or "")),
    ]
    if None in old or (kind == CALENDAR_MOVE and None in new):
        return False
    payload = {
        "request_id": instance.request_id,
        "original_request": original.request_id,
        "to": instance.data.get("b24_user_id") or original.data.get("b24_user_id"),
        "person_ref": instance.person_ref,
        "was_from": str(old[0]),
        "was_to": str(old[1]),
        **({"date_from": str(new[0]), "date_to": str(new[1])} if kind == CALENDAR_MOVE else {}),
    }
    return uow.outbox.add(B24, kind, f"{B24}:{kind}:{instance.request_id}", payload)


def queue_document(uow: UnitOfWork, instance: ProcessInstance, document: DocumentStatus) -> bool:
    """Queue the upload of the file 1C produced (a certificate) to the employee's Drive, once."""
    if document.content is None:
        return False
    payload = {
        "request_id": instance.request_id,
        "person_ref": instance.person_ref,
        "to": instance.data.get("b24_user_id"),
        "file_name": document.file_name or f"{instance.request_id}.pdf",
        "content_b64": base64.b64encode(document.content).decode(),
    }
    return uow.outbox.add(B24, DRIVE_UPLOAD, f"{B24}:{DRIVE_UPLOAD}:{instance.request_id}", payload)


def apply_status(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    status: RequestStatus,
    *,
    at: datetime,
    document: DocumentStatus | None = None,
) -> Transition | None:
    """Record what 1C says of one request; None when that changes nothing."""
    name = _EVENTS.get(status.status)
    if name is None:
        return None
    with UnitOfWork(sessions) as uow:
        repo = uow.processes
        instance = repo.get(status.request_id, lock=True)
        if instance is None or instance.state not in WITH_1C:
            return None
        if name == "onec_in_review":
            history = repo.history(status.request_id)
            if history and history[-1].data.get("event") == name:
                return None
        entry = catalog.entry(instance.kind)
        data = {"status": status.status, "doc_ref": status.doc_ref, "reviewed_by": status.reviewed_by}
        reason = status.reason if name in ("onec_rejected", "withdrawn") else None
        record = repo.apply(entry, status.request_id, Event(name, ACTOR, reason, data=data), at)
        queue_employee_message(uow, entry, instance, record)
        answer_document(uow, catalog, instance)  # a refused certificate: the waiting workflow goes on
        if record.to_state == "done":
            queue_calendar_event(uow, entry, instance)
            queue_calendar_change(uow, catalog, entry, instance)
        if record.to_state == "done" and document is not None:
            queue_document(uow, instance, document)
    log.info("onec.request_moved", request_id=status.request_id, to_state=record.to_state)
    return record


def apply_changes(
    sessions: sessionmaker[Session], catalog: Catalog, batch: ChangeBatch, *, clock: Clock = utcnow
) -> list[Transition]:
    """The request-status items of a change-feed batch, applied in order (others are the sync's)."""
    moved = []
    for change in batch.items:
        if isinstance(change.record, RequestStatus):
            record = apply_status(sessions, catalog, change.record, at=clock())
            if record is not None:
                moved.append(record)
    return moved


PollOutcome = Literal["moved", "unchanged"]


async def poll_submitted(
    sessions: sessionmaker[Session],
    onec: OneCPort,
    catalog: Catalog,
    *,
    clock: Clock = utcnow,
    limit: int = 200,
) -> list[Transition]:
    """Ask 1C (``GetDocument``) about each ``submitted`` request and record what moved; a certificate
    that is done comes with its PDF, queued for the employee's Drive folder."""
    with sessions() as session:
        request_ids = list(
            session.scalars(
                select(ProcessInstance.request_id)
                .where(ProcessInstance.state == "submitted")
                .order_by(ProcessInstance.updated_at)
                .limit(limit)
            )
        )
    moved = []
    for request_id in request_ids:
        document = await onec.document(request_id)
        status = RequestStatus(request_id, document.status, None, None, None)  # type: ignore[arg-type]
        record = apply_status(sessions, catalog, status, at=clock(), document=document)
        if record is not None:
            moved.append(record)
    return moved


async def apply_feed(
    sessions: sessionmaker[Session],
    onec: OneCPort,
    catalog: Catalog,
    batch: ChangeBatch,
    *,
    clock: Clock = utcnow,
) -> list[Transition]:
    """``apply_changes``, then the file of each request the batch made done whose entry fetches one (the
    feed carries statuses, not files): ``GetDocument`` and the Drive upload queued."""
    moved = await asyncio.to_thread(apply_changes, sessions, catalog, batch, clock=clock)
    for record in moved:
        if record.to_state != "done":
            continue
        with UnitOfWork(sessions) as uow:
            instance = uow.processes.get(record.request_id)
            fetches = instance is not None and catalog.entry(instance.kind).onec.fetch_document
        if not fetches:
            continue
        document = await onec.document(record.request_id)
        with UnitOfWork(sessions) as uow:
            instance = uow.processes.get(record.request_id, lock=True)
            if instance is not None:
                queue_document(uow, instance, document)
    return moved


class AnsweringFeed:
    """The 1C port as the mirror's feed reader sees it, with request statuses applied first: each batch
    ``changes`` returns has had its ``RequestStatus`` items recorded (``apply_feed``) before the reader
    acknowledges it, so a status is never acknowledged unrecorded, and a redelivered batch changes nothing.
    Everything else is the wrapped port's."""

    def __init__(self, onec: OneCPort, sessions: sessionmaker[Session], catalog: Catalog) -> None:
        self._onec, self._sessions, self._catalog = onec, sessions, catalog

    async def changes(self, ack_message_no: int, max_items: int = 500) -> ChangeBatch:
        batch = await self._onec.changes(ack_message_no, max_items)
        await apply_feed(self._sessions, self._onec, self._catalog, batch)
        return batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._onec, name)
