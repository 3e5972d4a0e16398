"""The reconciliation of requests: finds those that stalled, moves them on where it can, reports the rest.

One pass (the scheduler's ``process_reconcile`` job):

- **workflows Bitrix24 ended or purged** — a request still before 1C (``received``, ``awaiting:…``) whose
  workflow is no longer running (``bizproc.workflow.instances`` lists running ones only, bitrix24-rest.md
  §5.7) is ``cancel``-led with that reason: nobody can approve it any more. A request already approved is
  left alone: its workflow ends normally once the submit step is answered, and "not running" cannot tell
  that, or a purge of old instances, from a deliberate stop — withdrawing a document HR holds on such
  evidence would undo approved leave; an admin withdraws it on purpose (admin API cancel);
- **withdrawals** — a ``withdrawing`` request whose ``SubmitRequest`` was dead-lettered after the cancel
  (so no settle will queue its withdraw) gets its ``WithdrawRequest`` queued (``withdraws_queued``; 1C
  answers NotFound or Withdrawn); one quiet for ``withdraw_after`` (1C down, the withdraw retrying or
  dead-lettered) is reported (``withdrawing``) for the operator;
- **silent approvers** — a step waiting longer than its ``remind_after_hours`` gets a ``remind`` transition
  and an ``im.notify`` to the approver, once per reminder period (escalation to the alternate after
  ``deadline_hours`` is the workflow's own time-out, reported back as a decision);
- **call-outs whose answer waits on 1C** — a submit or fetch-document step whose request 1C has settled
  gets its answer queued again (answers are deduplicated by token, so this only fills a gap);
- **submitted to 1C without an answer** for ``stale_after`` — asked again with ``GetDocument``
  (``poll_submitted``);
- **done without its file** — a request whose entry fetches a document (a certificate) that 1C marked done
  before its PDF existed: ``GetDocument`` is asked again with backoff (``DOCUMENT_BACKOFF``, doubling to
  ``DOCUMENT_MAX_WAIT``) until the file comes and is queued for the employee's Drive as usual; after
  ``DOCUMENT_ASKS`` asks it is left to the operator (``documents_missing``, a report line each pass);
- **undeliverable** — dead-lettered ``SubmitRequest`` rows and call-out answers are counted and reported
  with ids, for the operator's retry (admin API / ``Outbox.requeue``).

Every move is a transition in the request's history; the log carries ids and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.port import Bitrix24Port
from connectors.errors import Transient
from connectors.onec.port import OneCPort
from core.clock import Clock, utcnow
from processes import activities
from processes.answers import B24, EVENT_SEND, answer_document, answer_submit, queue_answer
from processes.callouts import SOURCE, Directory
from processes.catalog import Catalog
from processes.engine import AWAITING, WITHDRAWING, Event
from processes.onec_answers import DRIVE_UPLOAD, NOTIFY, poll_submitted, queue_document
from processes.onec_outbox import KIND as SUBMIT_KIND
from processes.onec_outbox import ensure_withdraw
from store.models import OutboxMessage, ProcessInstance
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

ACTOR = "bridge:reconcile"
BEFORE_1C = ("received",)


@dataclass
class ReconcileReport:
    cancelled: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    failed_callouts: list[int] = field(default_factory=list)
    """Call-outs whose handler failed for good, answered with a refusal so their workflow goes on."""
    polled: int = 0
    documents_fetched: list[str] = field(default_factory=list)
    """Done requests whose missing file 1C has now given (queued for Drive)."""
    documents_missing: list[str] = field(default_factory=list)
    """Done requests still without their file after ``DOCUMENT_ASKS`` asks: for the operator."""
    dead_submits: list[int] = field(default_factory=list)
    dead_answers: list[int] = field(default_factory=list)
    withdrawing: list[str] = field(default_factory=list)
    """Requests whose withdrawal 1C has not answered within ``withdraw_after``: for the operator."""
    withdraws_queued: list[str] = field(default_factory=list)
    """Withdrawing requests whose submit was dead-lettered: their withdraw queued now."""

    def counts(self) -> dict[str, int]:
        return {
            "cancelled": len(self.cancelled),
            "reminded": len(self.reminded),
            "answered": len(self.answered),
            "failed_callouts": len(self.failed_callouts),
            "polled": self.polled,
            "documents_fetched": len(self.documents_fetched),
            "documents_missing": len(self.documents_missing),
            "dead_submits": len(self.dead_submits),
            "dead_answers": len(self.dead_answers),
            "withdrawing": len(self.withdrawing),
            "withdraws_queued": len(self.withdraws_queued),
        }


def _open_before_1c(session: Session) -> list[ProcessInstance]:
    rows = session.scalars(
        select(ProcessInstance).where(
            ProcessInstance.state.in_(BEFORE_1C) | ProcessInstance.state.startswith(AWAITING),
            ProcessInstance.b24_workflow_id.is_not(None),
        )
    )
    return list(rows)


async def _running_workflows(b24: Bitrix24Port, ids: list[str]) -> set[str]:
    running: set[str] = set()
    for start in range(0, len(ids), 50):
        chunk = ids[start : start + 50]
        rows: Any = await b24.call("bizproc.workflow.instances", {"select": ["ID"], "filter": {"ID": chunk}})
        running |= {str(r.get("ID")) for r in rows or [] if isinstance(r, dict)}
    return running


async def reconcile(
    sessions: sessionmaker[Session],
    b24: Bitrix24Port,
    onec: OneCPort,
    catalog: Catalog,
    directory: Directory,
    *,
    clock: Clock = utcnow,
    stale_after: timedelta = timedelta(hours=6),
    withdraw_after: timedelta = timedelta(hours=2),
) -> ReconcileReport:
    report = ReconcileReport()
    now = clock()
    with sessions() as session:
        waiting = [(i.request_id, str(i.b24_workflow_id)) for i in _open_before_1c(session)]
    running = await _running_workflows(b24, [w for _, w in waiting]) if waiting else set()
    for request_id, workflow_id in waiting:
        if workflow_id in running:
            continue
        with UnitOfWork(sessions) as uow:
            instance = uow.processes.get(request_id, lock=True)
            if instance is None or not (instance.state in BEFORE_1C or instance.state.startswith(AWAITING)):
                continue
            reason = "процесс в Битрикс24 завершён или удалён до согласования"
            uow.processes.apply(catalog.entry(instance.kind), request_id, Event("cancel", ACTOR, reason), now)
            report.cancelled.append(request_id)
    _queue_withdraws(sessions, report)
    _remind(sessions, catalog, directory, now, report)
    _answer_waiting(sessions, catalog, report)
    _answer_failed_callouts(sessions, report)
    with sessions() as session:
        stale = session.scalar(
            select(ProcessInstance.id).where(
                ProcessInstance.state == "submitted", ProcessInstance.updated_at < now - stale_after
            )
        )
    if stale is not None:
        report.polled = len(await poll_submitted(sessions, onec, catalog, clock=clock))
    await _fetch_missing_documents(sessions, onec, catalog, now, report)
    with sessions() as session:
        dead = session.execute(
            select(OutboxMessage.id, OutboxMessage.kind).where(
                OutboxMessage.status == "failed", OutboxMessage.kind.in_((SUBMIT_KIND, EVENT_SEND))
            )
        ).all()
        report.withdrawing = list(
            session.scalars(
                select(ProcessInstance.request_id)
                .where(
                    ProcessInstance.state == WITHDRAWING, ProcessInstance.updated_at < now - withdraw_after
                )
                .order_by(ProcessInstance.updated_at)
            )
        )
    report.dead_submits = [i for i, kind in dead if kind == SUBMIT_KIND]
    report.dead_answers = [i for i, kind in dead if kind == EVENT_SEND]
    if (report.dead_submits or report.dead_answers or report.cancelled or report.failed_callouts
            or report.documents_missing or report.withdrawing):  # fmt: skip
        log.warning("processes.stalled", **report.counts(), dead_submit_ids=report.dead_submits[:20],
                    dead_answer_ids=report.dead_answers[:20],
                    document_missing_ids=report.documents_missing[:20],
                    withdrawing_ids=report.withdrawing[:20])  # fmt: skip
    return report


def _queue_withdraws(sessions: sessionmaker[Session], report: ReconcileReport) -> None:
    with sessions() as session:
        withdrawing = list(
            session.scalars(select(ProcessInstance.request_id).where(ProcessInstance.state == WITHDRAWING))
        )
    for request_id in withdrawing:
        with UnitOfWork(sessions) as uow:
            instance = uow.processes.get(request_id, lock=True)
            if instance is not None and instance.state == WITHDRAWING and ensure_withdraw(uow, request_id):
                report.withdraws_queued.append(request_id)


def _remind(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    directory: Directory,
    now: datetime,
    report: ReconcileReport,
) -> None:
    with sessions() as session:
        awaiting = [
            i.request_id
            for i in session.scalars(
                select(ProcessInstance).where(ProcessInstance.state.startswith(AWAITING))
            )
        ]
    for request_id in awaiting:
        with UnitOfWork(sessions) as uow:
            instance = uow.processes.get(request_id, lock=True)
            if instance is None or not instance.state.startswith(AWAITING):
                continue
            entry = catalog.entry(instance.kind)
            code = instance.state.removeprefix(AWAITING)
            step = next((s for s in entry.approvals if s.code == code), None)
            if step is None or step.remind_after_hours is None:
                continue
            history = uow.processes.history(request_id)
            since = max(r.at for r in history if r.to_state == instance.state)
            if now - since < timedelta(hours=step.remind_after_hours):
                continue
            approver = directory.approvers(uow.session, instance.site_ref).get(step.approver)
            record = uow.processes.apply(entry, request_id, Event("remind", ACTOR, step=code), now)
            if approver:
                what = instance.data.get("name") or entry.title
                text = f"Напоминание: ждёт вашего решения — {step.title}: {what}"
                uow.outbox.add(B24, NOTIFY, f"{B24}:{NOTIFY}:{request_id}:{record.seq}",
                               {"request_id": request_id, "to": approver, "message": text})  # fmt: skip
            report.reminded.append(request_id)


def _answer_waiting(sessions: sessionmaker[Session], catalog: Catalog, report: ReconcileReport) -> None:
    with sessions() as session:
        settled = [
            i.request_id
            for i in session.scalars(
                select(ProcessInstance).where(
                    ProcessInstance.state.in_(("submitted", "done", "failed", "rejected", "cancelled"))
                )
            )
            if (i.data or {}).get("waiting")
        ]
    for request_id in settled:
        with UnitOfWork(sessions) as uow:
            instance = uow.processes.get(request_id, lock=True)
            if instance is None:
                continue
            if answer_submit(uow, catalog, instance) | answer_document(uow, catalog, instance):
                report.answered.append(request_id)


_REFUSALS: dict[str, dict[str, str]] = {
    activities.RESOLVE.code: {"Valid": "N"},
    activities.CHECK_BALANCE.code: {"Valid": "N"},
    activities.SUBMIT.code: {"Accepted": "N"},
    activities.FETCH_DOCUMENT.code: {"Ready": "N"},
}
FAILED_MESSAGE = "Заявку не удалось обработать — мы уже разбираемся, менеджер свяжется с вами"


def _answer_failed_callouts(sessions: sessionmaker[Session], report: ReconcileReport) -> None:
    """A call-out whose handler failed for good (a bug, a request the bridge cannot read) would leave its
    workflow waiting for ever: answer it with a refusal once (the answer's key is its token)."""
    with UnitOfWork(sessions) as uow:
        for message in uow.inbox.closed_with_error(SOURCE):
            refusal = _REFUSALS.get(message.kind)
            token = (message.payload or {}).get("event_token")
            if refusal is None or not token or (message.payload or {}).get("use_subscription") != "Y":
                continue
            values = {**refusal, "Message": FAILED_MESSAGE}
            if queue_answer(
                uow, message.kind, str(token), values, "the bridge could not handle this call-out"
            ):
                report.failed_callouts.append(message.id)


DOCUMENT_BACKOFF = timedelta(minutes=15)
DOCUMENT_MAX_WAIT = timedelta(hours=12)
DOCUMENT_ASKS = 10
"""About three days of asking (15 min doubling to 12 h) before the operator is asked to look."""


def _document_due(data: dict[str, Any], now: datetime) -> bool:
    asks = int(data.get("document_asks") or 0)
    last = data.get("document_asked_at")
    if asks == 0 or not last:
        return True
    wait = min(DOCUMENT_BACKOFF * (1 << (asks - 1)), DOCUMENT_MAX_WAIT)
    return now >= datetime.fromisoformat(str(last)) + wait  # written by this module as aware UTC


async def _fetch_missing_documents(
    sessions: sessionmaker[Session], onec: OneCPort, catalog: Catalog, now: datetime, report: ReconcileReport
) -> None:
    kinds = [code for code, entry in catalog.processes.items() if entry.onec.fetch_document]
    if not kinds:
        return
    with sessions() as session:
        queued = select(OutboxMessage.id).where(
            OutboxMessage.dedup_key == B24 + ":" + DRIVE_UPLOAD + ":" + ProcessInstance.request_id
        )
        done = [
            (i.request_id, dict(i.data or {}))
            for i in session.scalars(
                select(ProcessInstance).where(
                    ProcessInstance.state == "done", ProcessInstance.kind.in_(kinds), ~queued.exists()
                )
            )
            if not (i.data or {}).get("drive_file_url")
        ]
    for request_id, data in done:
        if int(data.get("document_asks") or 0) >= DOCUMENT_ASKS:
            report.documents_missing.append(request_id)
            continue
        if not _document_due(data, now):
            continue
        try:
            document = await onec.document(request_id)
        except Exception as exc:
            if not isinstance(exc, Transient):
                raise
            log.warning("processes.document_ask_failed", request_id=request_id)  # asked again next pass
            continue
        with UnitOfWork(sessions) as uow:
            instance = uow.processes.get(request_id, lock=True)
            if instance is None:
                continue
            if queue_document(uow, instance, document):
                report.documents_fetched.append(request_id)
                continue
            asks = int((instance.data or {}).get("document_asks") or 0) + 1
            instance.data = {
                **(instance.data or {}),
                "document_asks": asks,
                "document_asked_at": now.isoformat(),
            }
