"""The admin API of HR requests, behind the admin bearer token: list them, read one request's full history
(with its hash chain verified), find the stalled ones, retry a dead-lettered delivery, cancel a request.

A cancel is a transition through the engine (processes/engine.py) with the admin's reason, committed with
the employee's message in one unit of work; the engine refuses it (409) for a request that has ended. A
request on its way to 1C (``approved``, ``submitted``) is not ended here but ``withdrawing`` (202): 1C is
asked to withdraw the document (``WithdrawRequest`` through the outbox, after its submit) and the answer
ends it ``cancelled`` or, when HR decided first, puts it back to ``submitted``.
A retry puts the request's dead-lettered outbox rows back in the queue (``Outbox.requeue``); a request 1C
refused (``failed``) is sent again instead: the engine's ``retry`` and a fresh ``SubmitRequest`` row.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from core.clock import utcnow
from processes.catalog import Catalog, default_catalog
from processes.engine import AWAITING, TERMINAL, WITHDRAWING, IllegalTransition
from processes.onec_answers import queue_employee_message
from processes.onec_outbox import KIND as SUBMIT
from processes.onec_outbox import cancel_in, retry_in
from store import monitoring
from store.uow import UnitOfWork
from webhooks.deps import AdminUser, StoreDep
from webhooks.errors import Refusal, responses

log = logging.getLogger(__name__)

router = APIRouter(prefix="/admin", tags=["admin: processes"], responses=responses(401, 413, 503))


CHANGED_MEANWHILE = (StaleDataError, IntegrityError)
"""A concurrent writer's transition won: the version check, or the unique (instance, seq) of the history."""
RequestId = Annotated[str, Path(min_length=1, max_length=64, description="The request's id (UUID)")]


class ProcessSummary(BaseModel):
    request_id: str
    kind: str
    state: str
    site_ref: str | None
    created_at: datetime
    updated_at: datetime
    """When the last transition was recorded."""


class ProcessPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ProcessSummary]


class TransitionOut(BaseModel):
    seq: int
    from_state: str | None
    to_state: str
    actor: str
    """Who: ``employee:<id>``, an approver, ``onec``, ``bridge:<worker>``, ``admin``."""
    at: datetime
    reason: str | None
    data: dict[str, Any]


class ChainCheck(BaseModel):
    verified: bool
    """True when every record follows the previous one's hash and the history ends in the request's state."""
    broken_at: int | None = None
    problem: str | None = None


class DeliveryOut(BaseModel):
    id: int
    target: str
    kind: str
    status: str
    """pending | sending | sent | failed (dead-lettered) | parked"""
    attempts: int
    last_error: str | None
    request_id: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


class ProcessHistory(ProcessSummary):
    person_ref: str | None
    b24_element_id: int | None
    b24_workflow_id: str | None
    onec_document: str | None
    transitions: list[TransitionOut]
    chain: ChainCheck
    deliveries: list[DeliveryOut]


class StalledRequest(ProcessSummary):
    quiet_hours: float
    """Hours since the last transition."""
    deadline_hours: float
    """The catalog's deadline of the awaited approval step, or ``other_after_hours`` for other states."""


class DeadLetter(DeliveryOut):
    request_state: str | None


class Stalled(BaseModel):
    requests: list[StalledRequest]
    dead_letters: list[DeadLetter]


class Requeued(BaseModel):
    requeued: list[int]
    """Outbox rows due again now, their attempts counted afresh (or new: a refused request sent again)."""


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    """Why, as it is recorded in the history and told to the employee."""


class Cancelled(BaseModel):
    request_id: str
    state: str
    """``cancelled``, or ``withdrawing`` while 1C is asked to withdraw the document (answered 202)."""
    transition: TransitionOut


def _catalog(request: Request) -> Catalog:
    catalog: Catalog | None = getattr(request.app.state, "catalog", None)
    return catalog or default_catalog()


def _summary(row: monitoring.InstanceRow) -> dict[str, Any]:
    return {
        "request_id": row.request_id,
        "kind": row.kind,
        "state": row.state,
        "site_ref": row.site_ref,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _delivery(row: monitoring.DeliveryRow) -> DeliveryOut:
    return DeliveryOut.model_validate(row, from_attributes=True)


def _transition(record: Any) -> TransitionOut:
    return TransitionOut(
        seq=record.seq,
        from_state=record.from_state,
        to_state=record.to_state,
        actor=record.actor,
        at=record.at,
        reason=record.reason,
        data=dict(record.data),
    )


@router.get("/processes", response_model=ProcessPage, responses=responses(422))
def list_processes(
    _: AdminUser,
    store: StoreDep,
    kind: Annotated[str | None, Query(max_length=64, description="A catalog code, or `timesheet`")] = None,
    state: Annotated[str | None, Query(max_length=32, description="e.g. `awaiting:client`, `done`")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ProcessPage:
    """Requests (and timesheets), newest first, filtered by kind and state, a page at a time."""
    with store.sessions() as session:
        total, rows = monitoring.list_instances(session, kind=kind, state=state, limit=limit, offset=offset)
    items = [ProcessSummary(**_summary(r)) for r in rows]
    return ProcessPage(total=total, limit=limit, offset=offset, items=items)


# ``/processes/stalled`` is declared before ``/processes/{request_id}``: paths are matched in order.
@router.get("/processes/stalled", response_model=Stalled, responses=responses(422))
def stalled(
    request: Request,
    _: AdminUser,
    store: StoreDep,
    other_after_hours: Annotated[
        float, Query(gt=0, le=24 * 365, description="Deadline of states without one in the catalog")
    ] = 24,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Stalled:
    """Requests with no transition for longer than their deadline (the awaited approval step's, from the
    catalog), and deliveries given up after their retries (dead-lettered outbox rows)."""
    catalog = _catalog(request)
    other = timedelta(hours=other_after_hours)
    deadlines = {
        (code, AWAITING + step.code): timedelta(hours=step.deadline_hours)
        for code, entry in catalog.processes.items()
        for step in entry.approvals
    }
    shortest = min([other, *deadlines.values()])
    now = utcnow()
    with store.sessions() as session:
        quiet = monitoring.quiet_instances(
            session, before=now - shortest, excluding=TERMINAL, kinds=catalog.processes
        )
        letters = monitoring.dead_letters(session, limit)
        states = {
            rid: found.state
            for rid in {d.request_id for d in letters if d.request_id}
            if (found := monitoring.instance(session, rid)) is not None
        }
    found_requests: list[StalledRequest] = []
    for row in quiet:
        deadline = deadlines.get((row.kind, row.state), other)
        waited = now - row.updated_at
        if waited > deadline:
            found_requests.append(
                StalledRequest(
                    **_summary(row),
                    quiet_hours=round(waited.total_seconds() / 3600, 2),
                    deadline_hours=deadline.total_seconds() / 3600,
                )
            )
    dead = [
        DeadLetter(
            **_delivery(d).model_dump(), request_state=states.get(d.request_id) if d.request_id else None
        )
        for d in letters
    ]
    return Stalled(requests=found_requests[:limit], dead_letters=dead)


@router.post(
    "/outbox/{message_id}/retry",
    response_model=Requeued,
    responses=responses(404, 409, 422),
)
def retry_delivery(
    _: AdminUser, store: StoreDep, message_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Requeued:
    """Put one dead-lettered outbox row back in the queue (any target, request or not). A request's
    ``SubmitRequest`` is not sent again once the request is no longer ``approved`` (409): it would create
    the 1C document the request gave up."""
    with UnitOfWork(store.sessions) as uow:
        row = monitoring.delivery(uow.session, message_id)
        if row is None:
            raise Refusal(404, "not_found", "no outbox row with this id")
        if row.kind == SUBMIT and row.request_id and row.status == "failed":
            instance = uow.processes.get(row.request_id, lock=True)
            if instance is not None and instance.state != "approved":
                detail = f"the request is {instance.state}: its submission is not sent again"
                raise Refusal(409, "request_moved_on", detail)
        if not uow.outbox.requeue(message_id):
            raise Refusal(409, "not_dead_lettered", f"the row is {row.status}: only a failed row is retried")
    log.info("admin.retry", extra={"message_ids": [message_id]})
    return Requeued(requeued=[message_id])


@router.get("/processes/{request_id}", response_model=ProcessHistory, responses=responses(404, 422))
def history(_: AdminUser, store: StoreDep, request_id: RequestId) -> ProcessHistory:
    """One request: every transition (who, when, why), the hash chain checked, its deliveries."""
    with UnitOfWork(store.sessions) as uow:
        row = monitoring.instance(uow.session, request_id)
        if row is None:
            raise Refusal(404, "not_found", "no request with this id")
        records = uow.processes.history(request_id)
        broken = uow.processes.verify(request_id)
        deliveries = monitoring.deliveries_of(uow.session, request_id)
    chain = (
        ChainCheck(verified=True)
        if broken is None
        else ChainCheck(verified=False, broken_at=broken.seq, problem=broken.problem)
    )
    return ProcessHistory(
        **_summary(row),
        person_ref=row.person_ref,
        b24_element_id=row.b24_element_id,
        b24_workflow_id=row.b24_workflow_id,
        onec_document=row.onec_document,
        transitions=[_transition(r) for r in records],
        chain=chain,
        deliveries=[_delivery(d) for d in deliveries],
    )


@router.post(
    "/processes/{request_id}/retry",
    response_model=Requeued,
    responses=responses(404, 409, 422),
)
def retry(request: Request, who: AdminUser, store: StoreDep, request_id: RequestId) -> Requeued:
    """Put the request's dead-lettered deliveries back in the queue (their attempts counted afresh); a
    request 1C refused (``failed``) goes back to ``approved`` with a new ``SubmitRequest`` of its last
    payload. 409 when there is nothing to retry. Two admins at once queue one row (the request is locked)."""
    catalog = _catalog(request)
    try:
        with UnitOfWork(store.sessions) as uow:
            instance = uow.processes.get(request_id, lock=True)
            if instance is None:
                raise Refusal(404, "not_found", "no request with this id")
            state = instance.state
            # A dead submit of a request no longer approved (withdrawing, cancelled) is not sent again: it
            # would create the document the request gave up.
            dead = [
                d.id
                for d in monitoring.deliveries_of(uow.session, request_id)
                if d.status == "failed" and (d.kind != SUBMIT or state == "approved")
            ]
            requeued = [message_id for message_id in dead if uow.outbox.requeue(message_id)]
            if not requeued and state == "failed" and instance.kind in catalog.processes:
                try:
                    record = retry_in(uow, catalog, request_id, who, utcnow())
                except LookupError:
                    raise Refusal(409, "nothing_to_retry", "the request was never queued for 1C") from None
                except IllegalTransition:  # SQLite: the other admin's retry moved it on after our read
                    raise Refusal(
                        409, "changed_meanwhile", "the request changed meanwhile; read it and try again"
                    ) from None
                uow.session.flush()
                requeued = [
                    d.id
                    for d in monitoring.deliveries_of(uow.session, request_id)
                    if d.kind == SUBMIT and d.status == "pending"
                ]
                state = record.to_state
            if not requeued:
                detail = f"the request is {state}: it has no dead-lettered delivery and 1C did not refuse it"
                raise Refusal(409, "nothing_to_retry", detail)
    except CHANGED_MEANWHILE:  # SQLite has no row lock: the other admin's transition took this seq
        raise Refusal(
            409, "changed_meanwhile", "the request changed meanwhile; read it and try again"
        ) from None
    log.info("admin.retry", extra={"request_id": request_id, "message_ids": requeued})
    return Requeued(requeued=requeued)


@router.post(
    "/processes/{request_id}/cancel",
    response_model=Cancelled,
    status_code=200,
    responses={
        **responses(400, 404, 409, 422),
        202: {"model": Cancelled, "description": "Withdrawing from 1C"},
    },
)
def cancel(
    request: Request,
    response: Response,
    body: CancelIn,
    who: AdminUser,
    store: StoreDep,
    request_id: RequestId,
) -> Cancelled:
    """Cancel a request through the engine, with the reason; the employee is told. A request on its way to
    1C is ``withdrawing`` (202) until 1C withdraws the document (then ``cancelled``, the employee told) or
    answers that HR decided first (back to ``submitted``). 409 when the request has ended (the engine
    forbids it), is already withdrawing, or is not a catalog process."""
    catalog = _catalog(request)
    try:
        with UnitOfWork(store.sessions) as uow:
            instance = uow.processes.get(request_id, lock=True)
            if instance is None:
                raise Refusal(404, "not_found", "no request with this id")
            if instance.kind not in catalog.processes:
                raise Refusal(409, "not_cancellable", f"a {instance.kind} is not a request of the catalog")
            entry = catalog.entry(instance.kind)
            try:
                record = cancel_in(uow, catalog, request_id, who, body.reason, utcnow())
            except IllegalTransition:
                raise Refusal(
                    409, "state_forbids", f"a request in state {instance.state} cannot be cancelled"
                ) from None
            queue_employee_message(uow, entry, instance, record)
    except CHANGED_MEANWHILE:  # another writer moved the request on between our read and our write
        detail = "the request changed meanwhile; read it and try again"
        raise Refusal(409, "changed_meanwhile", detail) from None
    log.info("admin.cancel", extra={"request_id": request_id, "from_state": record.from_state})
    if record.to_state == WITHDRAWING:
        response.status_code = 202
    return Cancelled(request_id=request_id, state=record.to_state, transition=_transition(record))
