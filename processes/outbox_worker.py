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
moves the request to ``failed`` with the refusal codes, and the employee is told; ``retry_in`` (the admin's
retry) moves it back to ``approved`` with a fresh ``SubmitRequest`` row of the same payload.

``cancel_in`` cancels through the engine: a request on its way to 1C becomes ``withdrawing`` and a
``WithdrawRequest`` row (kind ``WithdrawRequest``, keyed by the cancel's seq) goes out under the same policy
— in the cancel's commit when the document is in 1C, or in the commit that settles a ``SubmitRequest`` still
in the outbox, so a withdraw never overtakes its submit. 1C's answer ends the request ``cancelled``
(Withdrawn, AlreadyWithdrawn, NotFound) or puts it back to ``submitted`` (TooLate: HR decided first).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import or_, select
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
    WithdrawResult,
)
from core.clock import Clock, utcnow
from processes import attachments
from processes.answers import answer_document, answer_submit
from processes.catalog import Catalog
from processes.engine import WITHDRAWING, Event, IllegalTransition, Transition
from processes.onec_answers import queue_employee_message
from store.models import OutboxMessage, ProcessInstance
from store.outbox import Pending
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

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


def _queue_withdraw(uow: UnitOfWork, request_id: str, cancel: Transition) -> bool:
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
    return _queue_withdraw(uow, request_id, cancel)


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
    withdrawn: list[str] = field(default_factory=list)
    """Request ids 1C withdrew (the request is ``cancelled``)."""
    too_late: list[str] = field(default_factory=list)
    """Request ids 1C would not withdraw, HR having decided (back to ``submitted``)."""
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
    """One pass: claim due ``SubmitRequest``/``WithdrawRequest`` rows, send them to 1C, settle each. Safe to
    run in several processes at once; call it from the scheduler every few seconds. ``files`` downloads the
    attachments a row references (the Bitrix24 gateway; processes/attachments.py)."""
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
    send = _SENDERS.get(row.kind)
    if send is None:
        _dead(sessions, row, f"unknown kind {row.kind}", report)
        return
    try:
        result = await send(onec, row.payload, files)
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


async def _send_submit(
    onec: OneCPort, payload: Mapping[str, Any], files: Bitrix24Port | None
) -> SubmitResult:
    submission = await attachments.attach(decode_submission(payload), payload, files, onec)
    return await onec.submit_request(submission)


async def _send_withdraw(
    onec: OneCPort, payload: Mapping[str, Any], _files: Bitrix24Port | None
) -> WithdrawResult:
    return await onec.withdraw_request(payload["request_id"], payload.get("reason"))


Sender = Callable[
    [OneCPort, Mapping[str, Any], Bitrix24Port | None], Awaitable[SubmitResult | WithdrawResult]
]
_SENDERS: dict[str, Sender] = {
    KIND: _send_submit,
    WITHDRAW: _send_withdraw,
}


def _settle(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    row: Pending,
    result: SubmitResult | WithdrawResult,
    at: datetime,
    report: DeliveryReport,
) -> None:
    request_id = row.payload["request_id"]
    with UnitOfWork(sessions) as uow:
        if not uow.outbox.settle_sent(row):
            report.stale += 1
            return
        instance = uow.processes.get(request_id, lock=True)
        if instance is None:
            log.error("outbox.unknown_request", message_id=row.id)
            return
        if isinstance(result, WithdrawResult):
            _settle_withdraw(uow, catalog, row, instance, result, at, report)
        else:
            _settle_submit(uow, catalog, row, instance, result, at, report)


def _settle_submit(
    uow: UnitOfWork,
    catalog: Catalog,
    row: Pending,
    instance: ProcessInstance,
    result: SubmitResult,
    at: datetime,
    report: DeliveryReport,
) -> None:
    request_id, repo = instance.request_id, uow.processes
    entry = catalog.entry(instance.kind)
    if result.status == "Rejected":
        codes = ", ".join(e.code for e in result.errors) or "REJECTED"
        event = Event("fail", ACTOR, codes, data={"codes": [e.code for e in result.errors]})
    else:
        event = Event("submitted", ACTOR, data={"doc_ref": result.doc_ref, "doc_number": result.doc_number})
    try:
        record = repo.apply(entry, request_id, event, at)
    except IllegalTransition:  # cancelled or moved on meanwhile: 1C has it, the history says why
        log.warning("outbox.state_moved_on", message_id=row.id, state=instance.state)
        return
    if result.doc_ref:
        instance.onec_document = result.doc_ref
    if record.to_state == WITHDRAWING:  # cancelled while on its way: now the withdraw may follow
        cancel = next(r for r in reversed(repo.history(request_id)) if r.data.get("event") == "cancel")
        _queue_withdraw(uow, request_id, cancel)
        (report.refused if result.status == "Rejected" else report.sent).append(request_id)
        return
    if record.to_state == "failed":
        queue_employee_message(uow, entry, instance, record)
        report.refused.append(request_id)
    else:
        report.sent.append(request_id)
    answer_submit(uow, catalog, instance)  # the workflow's submit step waits for this


def _settle_withdraw(
    uow: UnitOfWork,
    catalog: Catalog,
    row: Pending,
    instance: ProcessInstance,
    result: WithdrawResult,
    at: datetime,
    report: DeliveryReport,
) -> None:
    request_id, entry = instance.request_id, catalog.entry(instance.kind)
    data = {"status": result.status, "codes": [e.code for e in result.errors]}
    if result.status == "TooLate":  # HR decided or posted it first: the request stays in 1C
        reason = (
            "; ".join(e.message for e in result.errors if e.message) or "отдел кадров уже рассмотрел заявку"
        )
        event = Event("withdraw_refused", ACTOR, reason, data=data)
    else:  # Withdrawn, AlreadyWithdrawn, or NotFound (1C never created it): nothing is left in 1C
        event = Event("withdrawn", ACTOR, row.payload.get("reason"), data=data)
    try:
        record = uow.processes.apply(entry, request_id, event, at)
    except IllegalTransition:  # HR's answer came first through the feed: the history says how it ended
        log.warning("outbox.state_moved_on", message_id=row.id, state=instance.state)
        return
    queue_employee_message(uow, entry, instance, record)
    answer_submit(uow, catalog, instance)
    answer_document(uow, catalog, instance)
    if record.to_state == "submitted":
        report.too_late.append(request_id)
        # For the operator: the cancel did not happen in 1C (the request's history has 1C's reason).
        log.warning("outbox.withdraw_too_late", message_id=row.id)
    else:
        report.withdrawn.append(request_id)


def _dead(sessions: sessionmaker[Session], row: Pending, error: str, report: DeliveryReport) -> None:
    with UnitOfWork(sessions) as uow:
        if not uow.outbox.dead_letter(row, error):
            report.stale += 1
            return
    report.dead += 1
    # The alert: ids and the error class only — the payload holds personal data and is never logged.
    log.error("outbox.dead_letter", message_id=row.id, target=row.target, kind=row.kind,
              attempts=row.attempts, error=error)  # fmt: skip
