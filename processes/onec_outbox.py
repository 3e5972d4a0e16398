"""What requests put in the 1C outbox, in the same commit as the transition that calls for it.

``approve_in`` applies an approval; when the request reaches ``approved`` its ``SubmitRequest`` row
(target ``onec``, kind ``SubmitRequest``, dedup key from the request id; the attachments as file
references, processes/attachments.py) is added in the same unit of work, so the row exists exactly when the
approval was committed. ``cancel_in`` cancels through the engine: a request on its way to 1C becomes
``withdrawing`` and its ``WithdrawRequest`` row (keyed by the cancel's seq) is added — in the cancel's
commit when the document is in 1C, or by the worker in the commit that settles a ``SubmitRequest`` still in
the outbox, so a withdraw never overtakes its submit. ``retry_in`` (the admin's retry of a request 1C
refused) moves it back to ``approved`` with a fresh ``SubmitRequest`` row of the same payload.
processes/outbox_worker.py sends the rows.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.onec.port import (
    Approval,
    Attachment,
    EmploymentRef,
    PersonRef,
    RequestSubmission,
    TRequestKind,
)
from processes import attachments
from processes.catalog import Catalog
from processes.engine import WITHDRAWING, Event, Transition
from store.models import OutboxMessage
from store.uow import UnitOfWork

TARGET = "onec"
KIND = "SubmitRequest"
ACTOR = "bridge:outbox"


WITHDRAW = "WithdrawRequest"
IN_OUTBOX = ("pending", "sending")


def dedup_key(request_id: str) -> str:
    return f"{TARGET}:{KIND}:{request_id}"


def withdraw_key(request_id: str, cancel_seq: int) -> str:
    """One withdraw per cancel: a request put back to ``submitted`` (TooLate) can be cancelled again."""
    return f"{TARGET}:{WITHDRAW}:{request_id}:{cancel_seq}"


# ---- the payload: a RequestSubmission as JSON ------------------------------------------------------------


def encode_submission(s: RequestSubmission) -> dict[str, Any]:
    return {
        "request_id": s.request_id,
        "kind": s.kind,
        "person_ref": s.person_ref,
        "employee_ref": s.employee_ref,
        "date_from": s.date_from.isoformat() if s.date_from else None,
        "date_to": s.date_to.isoformat() if s.date_to else None,
        "details": dict(s.details),
        "approvals": [a.as_json() for a in s.approvals],
        "attachments": [
            {"name": a.name, "mime": a.mime, "content": base64.b64encode(a.content).decode()}
            for a in s.attachments
        ],
    }


def decode_submission(p: Mapping[str, Any]) -> RequestSubmission:
    return RequestSubmission(
        request_id=p["request_id"],
        kind=cast(TRequestKind, p["kind"]),
        person_ref=PersonRef(p["person_ref"]),
        employee_ref=EmploymentRef(p["employee_ref"]) if p.get("employee_ref") else None,
        date_from=date.fromisoformat(p["date_from"]) if p.get("date_from") else None,
        date_to=date.fromisoformat(p["date_to"]) if p.get("date_to") else None,
        details=dict(p.get("details") or {}),
        approvals=tuple(Approval.from_json(a) for a in p.get("approvals") or ()),
        attachments=tuple(
            Attachment(a["name"], a["mime"], base64.b64decode(a["content"]))
            for a in p.get("attachments") or ()
        ),
    )


# ---- the write side: an approval and its outbox row in one commit ----------------------------------------


def approve(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    request_id: str,
    event: Event,
    at: datetime,
    submission: RequestSubmission,
    *,
    attachment_refs: Sequence[Mapping[str, Any]] = (),
) -> Transition:
    """Apply an approval ``event``; if it makes the request ``approved``, queue its ``SubmitRequest`` in
    the same commit. Raises as ``ProcessRepository.apply`` does (nothing is written then)."""
    with UnitOfWork(sessions) as uow:
        return approve_in(uow, catalog, request_id, event, at, submission, attachment_refs=attachment_refs)


def approve_in(
    uow: UnitOfWork,
    catalog: Catalog,
    request_id: str,
    event: Event,
    at: datetime,
    submission: RequestSubmission,
    *,
    attachment_refs: Sequence[Mapping[str, Any]] = (),
) -> Transition:
    """``approve`` inside the caller's unit of work (the call-out dispatcher's). ``attachment_refs``: the
    request's files, downloaded by the worker before it sends (processes/attachments.py)."""
    if submission.request_id != request_id:
        raise ValueError("the submission carries another request's id")
    repo = uow.processes
    instance = repo.get(request_id, lock=True)
    if instance is None:
        raise KeyError(request_id)
    record = repo.apply(catalog.entry(instance.kind), request_id, event, at)
    if record.to_state == "approved":
        payload = encode_submission(submission)
        if attachment_refs:
            payload[attachments.REFS] = [dict(ref) for ref in attachment_refs]
        uow.outbox.add(TARGET, KIND, dedup_key(request_id), payload)
    return record


def _submit_rows(uow: UnitOfWork, request_id: str) -> list[OutboxMessage]:
    """The request's ``SubmitRequest`` rows, newest first (the first one, then one per admin retry)."""
    key = dedup_key(request_id)
    return list(
        uow.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.target == TARGET,
                OutboxMessage.kind == KIND,
                or_(
                    OutboxMessage.dedup_key == key,
                    OutboxMessage.dedup_key.startswith(key + ":", autoescape=True),
                ),
            )
            .order_by(OutboxMessage.id.desc())
        )
    )


def queue_withdraw(uow: UnitOfWork, request_id: str, cancel: Transition) -> bool:
    payload = {"request_id": request_id, "reason": cancel.reason}
    return uow.outbox.add(TARGET, WITHDRAW, withdraw_key(request_id, cancel.seq), payload)


def cancel_in(
    uow: UnitOfWork, catalog: Catalog, request_id: str, actor: str, reason: str, at: datetime
) -> Transition:
    """Apply ``cancel`` (the caller has the instance locked); a request on its way to 1C becomes
    ``withdrawing`` and its ``WithdrawRequest`` is queued now, or by ``_settle`` once a ``SubmitRequest``
    still in the outbox has been answered. Raises as ``ProcessRepository.apply`` does."""
    repo = uow.processes
    instance = repo.get(request_id, lock=True)
    if instance is None:
        raise KeyError(request_id)
    record = repo.apply(catalog.entry(instance.kind), request_id, Event("cancel", actor, reason), at)
    if record.to_state == WITHDRAWING:
        _withdraw_unless_submitting(uow, request_id, record)
    return record


def _withdraw_unless_submitting(uow: UnitOfWork, request_id: str, cancel: Transition) -> bool:
    if any(row.status in IN_OUTBOX for row in _submit_rows(uow, request_id)):
        return False  # its settle queues the withdraw: never before the submit
    return queue_withdraw(uow, request_id, cancel)


def ensure_withdraw(uow: UnitOfWork, request_id: str) -> bool:
    """For a ``withdrawing`` request (locked by the caller) whose submit will never settle — dead-lettered
    after the cancel — queue the withdraw of its last cancel; True when a row was added (keyed by the
    cancel, so at most one per cancel)."""
    cancel = next(
        (r for r in reversed(uow.processes.history(request_id)) if r.data.get("event") == "cancel"), None
    )
    return cancel is not None and _withdraw_unless_submitting(uow, request_id, cancel)


def retry_in(uow: UnitOfWork, catalog: Catalog, request_id: str, actor: str, at: datetime) -> Transition:
    """A request 1C refused (``failed``) goes back to ``approved`` with a fresh ``SubmitRequest`` row (its key
    carries the retry's seq) of the last payload sent: 1C stored nothing for the refused id, so the same
    id can be sent again once HR fixed the data. Raises IllegalTransition for any other state, LookupError
    when no submission was ever queued."""
    repo = uow.processes
    instance = repo.get(request_id, lock=True)
    if instance is None:
        raise KeyError(request_id)
    rows = _submit_rows(uow, request_id)
    record = repo.apply(
        catalog.entry(instance.kind), request_id, Event("retry", actor, "повторная отправка"), at
    )
    if not rows:
        raise LookupError(f"no submission of {request_id} to send again")
    uow.outbox.add(TARGET, KIND, f"{dedup_key(request_id)}:{record.seq}", dict(rows[0].payload))
    return record
