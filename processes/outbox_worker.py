"""Into 1C through the outbox: an approval and its ``SubmitRequest`` are written in one commit, and a
worker delivers it.

``approve`` applies an approval event; when the request reaches ``approved`` the outbox row (target
``onec``, kind ``SubmitRequest``, dedup key from the request id) is added in the same unit of work, so the
row exists exactly when the approval was committed. ``deliver_pending`` claims due rows (row locks and a
lease: store/outbox.py), sends each with the request's id — 1C dedupes by it (docs/onec-contract.md), so
a resend after a crash creates nothing new — and settles the row with the request's ``submitted``
transition in one commit. While 1C is down (Transient errors) a row waits with exponential backoff; after
``max_attempts``, or at once on a Terminal error, it is dead-lettered (``failed``) with an error-level
``outbox.dead_letter`` log event that carries ids and error classes only. A business refusal from 1C
moves the request to ``failed`` with the refusal codes, and the employee is told.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.port import Bitrix24Port
from connectors.errors import Transient
from connectors.onec.port import (
    Approval,
    Attachment,
    EmploymentRef,
    OneCPort,
    PersonRef,
    RequestSubmission,
    SubmitResult,
    TRequestKind,
)
from core.clock import Clock, utcnow
from processes import attachments
from processes.answers import answer_submit
from processes.catalog import Catalog
from processes.engine import Event, IllegalTransition, Transition
from processes.onec_answers import queue_employee_message
from store.outbox import Pending
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

TARGET = "onec"
KIND = "SubmitRequest"
ACTOR = "bridge:outbox"


def dedup_key(request_id: str) -> str:
    return f"{TARGET}:{KIND}:{request_id}"


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
        "approvals": [
            {
                "who": a.who,
                "role": a.role,
                "at": a.at.isoformat(),
                "decision": a.decision,
                "comment": a.comment,
            }
            for a in s.approvals
        ],
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
        approvals=tuple(
            Approval(a["who"], a["role"], datetime.fromisoformat(a["at"]), a["decision"], a.get("comment"))
            for a in p.get("approvals") or ()
        ),
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


# ---- the worker ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 10
    """Claims of one row before it is dead-lettered (the connector's own quick retries are inside each)."""
    initial_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)
    """How long a claim holds a row; a worker that died leaves it due again after this."""
    batch: int = 20

    def backoff(self, attempt: int) -> timedelta:
        """Exponential: initial, 2×, 4×, … capped at ``max_backoff``."""
        wait: timedelta = self.initial_backoff * 2 ** max(attempt - 1, 0)
        return min(wait, self.max_backoff)


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    """Request ids 1C now has (created or already there)."""
    retrying: int = 0
    refused: list[str] = field(default_factory=list)
    """Request ids 1C refused with business errors (the request is ``failed``)."""
    dead: int = 0
    stale: int = 0
    """Claims that ran out before they were settled (another worker owns the row now)."""


async def deliver_pending(
    sessions: sessionmaker[Session],
    onec: OneCPort,
    catalog: Catalog,
    *,
    policy: DeliveryPolicy = DeliveryPolicy(),
    clock: Clock = utcnow,
    files: Bitrix24Port | None = None,
) -> DeliveryReport:
    """One pass: claim due ``SubmitRequest`` rows, send them to 1C, settle each. Safe to run in several
    processes at once; call it from the scheduler every few seconds. ``files`` downloads the attachments
    a row references (the Bitrix24 gateway; processes/attachments.py)."""
    report = DeliveryReport()
    with UnitOfWork(sessions) as uow:
        claimed = uow.outbox.claim(TARGET, lease=policy.lease, limit=policy.batch, now=clock())
    for row in claimed:
        await _deliver(sessions, onec, catalog, row, policy, clock, report, files)
    return report


async def _deliver(
    sessions: sessionmaker[Session],
    onec: OneCPort,
    catalog: Catalog,
    row: Pending,
    policy: DeliveryPolicy,
    clock: Clock,
    report: DeliveryReport,
    files: Bitrix24Port | None = None,
) -> None:
    if row.kind != KIND:
        _dead(sessions, row, f"unknown kind {row.kind}", report)
        return
    try:
        submission = await attachments.attach(decode_submission(row.payload), row.payload, files, onec)
        result = await onec.submit_request(submission)
    except Exception as error:
        # Transient (1C down, sessions locked, a dropped connection): back off and retry; Terminal, or a
        # payload this code cannot read: no retry would help, so dead-letter at once.
        error_name = type(error).__name__
        if not isinstance(error, Transient) or row.attempts >= policy.max_attempts:
            _dead(sessions, row, error_name, report)
            return
        with UnitOfWork(sessions) as uow:
            settled = uow.outbox.retry_later(row, clock() + policy.backoff(row.attempts), error_name)
        if settled:
            report.retrying += 1
        else:
            report.stale += 1
        log.warning("outbox.retry", message_id=row.id, attempt=row.attempts, error=error_name)
        return
    _settle(sessions, catalog, row, result, clock(), report)


def _settle(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    row: Pending,
    result: SubmitResult,
    at: datetime,
    report: DeliveryReport,
) -> None:
    request_id = row.payload["request_id"]
    with UnitOfWork(sessions) as uow:
        if not uow.outbox.settle_sent(row):
            report.stale += 1
            return
        repo = uow.processes
        instance = repo.get(request_id, lock=True)
        if instance is None:
            log.error("outbox.unknown_request", message_id=row.id)
            return
        entry = catalog.entry(instance.kind)
        if result.status == "Rejected":
            codes = ", ".join(e.code for e in result.errors) or "REJECTED"
            event = Event("fail", ACTOR, codes, data={"codes": [e.code for e in result.errors]})
        else:
            event = Event(
                "submitted", ACTOR, data={"doc_ref": result.doc_ref, "doc_number": result.doc_number}
            )
        try:
            record = repo.apply(entry, request_id, event, at)
        except IllegalTransition:  # cancelled or moved on meanwhile: 1C has it, the history says why
            log.warning("outbox.state_moved_on", message_id=row.id, state=instance.state)
            return
        if result.doc_ref:
            instance.onec_document = result.doc_ref
        if record.to_state == "failed":
            queue_employee_message(uow, entry, instance, record)
            report.refused.append(request_id)
        else:
            report.sent.append(request_id)
        answer_submit(uow, catalog, instance)  # the workflow's submit step waits for this


def _dead(sessions: sessionmaker[Session], row: Pending, error: str, report: DeliveryReport) -> None:
    with UnitOfWork(sessions) as uow:
        if not uow.outbox.dead_letter(row, error):
            report.stale += 1
            return
    report.dead += 1
    # The alert: ids and the error class only — the payload holds personal data and is never logged.
    log.error("outbox.dead_letter", message_id=row.id, target=row.target, kind=row.kind,
              attempts=row.attempts, error=error)  # fmt: skip
