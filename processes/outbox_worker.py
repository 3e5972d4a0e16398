"""Into 1C through the outbox: the worker that sends what processes/onec_outbox.py queued.

``deliver_pending`` claims due rows of target ``onec`` (row locks and a lease: store/outbox.py) and sends
each: a ``SubmitRequest`` with the request's id — 1C dedupes by it (docs/onec-contract.md), so a resend after
a crash creates nothing new — after downloading the attachments it references (processes/attachments.py),
or a ``WithdrawRequest``. Each row is settled with the request's transition in one commit: ``submitted``,
or ``failed`` with 1C's refusal codes (the employee is told); for a withdraw ``cancelled`` (Withdrawn,
AlreadyWithdrawn, NotFound) or back to ``submitted`` (TooLate: HR decided first). A submit that settles
while the request is ``withdrawing`` queues its withdraw then. While 1C is down (Transient errors) a row
waits with exponential backoff; after ``max_attempts``, or at once on a Terminal error, it is
dead-lettered (``failed``) with an error-level ``outbox.dead_letter`` log event that carries ids and error
classes only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.port import Bitrix24Port
from connectors.errors import Transient
from connectors.onec.port import OneCPort, SubmitResult, WithdrawResult
from core.clock import Clock, utcnow
from processes import attachments
from processes.answers import answer_document, answer_submit
from processes.catalog import Catalog
from processes.engine import WITHDRAWING, Event, IllegalTransition
from processes.onec_answers import queue_employee_message
from processes.onec_outbox import ACTOR, KIND, TARGET, WITHDRAW, decode_submission, queue_withdraw
from store.models import ProcessInstance
from store.outbox import Pending
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)


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
        queue_withdraw(uow, request_id, cancel)
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
