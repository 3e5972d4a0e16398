"""The work behind each REST-activity call-out (processes/activities.py), run by the inbox dispatcher.

A call-out names its workflow's list element; the element is the request (its id is derived from the
portal and the element, so every call-out of one request finds it). Each handler first reads what it
needs from Bitrix24 (``prepare``: reads only), then, in the transaction that marks the call-out
processed, moves the request on and queues its answer — ``bizproc.event.send`` with ``EVENT_TOKEN``, the
activity's declared ``RETURN_VALUES`` only and a ``LOG_MESSAGE`` (bitrix24-rest.md §5.13) — as an outbox
row the Bitrix24 sender delivers (processes/b24_sender.py). So the same call-out twice is one inbox row,
and a call-out that comes late or out of order meets the request's state and does nothing twice:

- ``eb_resolve_approvers``: opens the request, validates the form (the balance check waits for its own
  call-out), answers ``Valid``, ``Message`` and the approvers of the employee's site (``user_<id>``);
- ``eb_check_balance``: the leave balance from 1C's records (processes/leave_balance.py) → validated or
  invalid;
- ``eb_record_decision`` (fire-and-forget): an approval step's decision; the last approval goes through
  ``outbox_worker.approve_in`` with ``forms.submission``, which queues the ``SubmitRequest``;
- ``eb_submit_to_1c``: the workflow passed every approval, so missing decisions are recorded as the
  workflow's; the answer (``Accepted``, ``DocNumber``) goes out once 1C has the document (the outbox
  worker calls ``answer_submit``), at once when it already has;
- ``eb_fetch_document``: answered (``Ready``, ``FileUrl``) once the certificate is in the employee's Drive
  (the Bitrix24 sender calls ``answer_document``), or when 1C refused it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import structlog
from sqlalchemy.orm import Session

from connectors.bitrix24.port import Bitrix24Port
from connectors.onec.port import Approval
from core.clock import Clock, utcnow
from core.ids import B24ElementId
from processes import activities, attachments
from processes.answers import answer_document, answer_submit, queue_answer
from processes.catalog import ApproverRole, BalanceCheck, Catalog, CatalogError, ProcessEntry
from processes.element import ElementGone, RequestElement, iblock_of, read_element
from processes.engine import AWAITING, Event, employee_message
from processes.forms import submission
from processes.onec_outbox import approve_in
from processes.validation import summary, validate_request
from store.inbox import Work
from store.models import ProcessInstance
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

SOURCE = "bitrix24.activity"
"""The inbox source of call-outs (webhooks/activity.py stores them)."""
WORKFLOW = "bitrix24:workflow"
BRIDGE = "bridge"


@dataclass(frozen=True, slots=True)
class Filer:
    """The employee who filed a request, as the mirror knows them."""

    b24_user_id: int
    person_ref: str | None
    employee_ref: str | None
    site_ref: str | None


class Directory(Protocol):
    """Who is who (implemented over the mirror's tables and the portal's sites by the service)."""

    def filer(self, session: Session, b24_user_id: int) -> Filer: ...

    def approvers(self, session: Session, site_ref: str | None) -> Mapping[ApproverRole, int | None]: ...


LeaveBalance = Callable[[Session, str, date], Decimal | None]


@dataclass
class Context:
    b24: Bitrix24Port
    catalog: Catalog
    directory: Directory
    leave_balance: LeaveBalance
    clock: Clock = utcnow
    holidays: Collection[date] = field(default_factory=tuple)


def request_id_for(member_id: str, element_id: int) -> str:
    """One request per list element of one portal: every call-out of it derives the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bitrix24:{member_id}:lists-element:{element_id}"))


def _element_id(payload: Mapping[str, Any]) -> int:
    raw = str(payload["document_id"][2])
    if not raw.isdigit():
        raise ElementGone(f"document id {raw[:20]!r} is not a list element")
    return int(raw)


def _entry(ctx: Context, payload: Mapping[str, Any]) -> ProcessEntry | None:
    try:
        return ctx.catalog.entry(str(payload.get("properties", {}).get("RequestKind") or ""))
    except CatalogError:
        return None


def _instance(uow: UnitOfWork, payload: Mapping[str, Any]) -> ProcessInstance | None:
    return uow.processes.get(request_id_for(str(payload["member_id"]), _element_id(payload)), lock=True)


def _waiting(instance: ProcessInstance, slot: str, token: str) -> None:
    data = dict(instance.data or {})
    data["waiting"] = {**(data.get("waiting") or {}), slot: token}
    instance.data = data


def _user(value: int | None) -> str:
    return f"user_{value}" if value else ""


# ---- eb_resolve_approvers ------------------------------------------------------------------------------


async def resolve(ctx: Context, payload: Mapping[str, Any]) -> Work:
    entry = _entry(ctx, payload)
    element = None
    if entry is not None:
        iblock = iblock_of(list(payload["document_id"]), payload.get("document_type"))
        try:
            element = await read_element(ctx.b24, entry, _element_id(payload), iblock)
        except ElementGone:
            element = None

    def work(uow: UnitOfWork) -> None:
        code, token = activities.RESOLVE.code, str(payload["event_token"])
        if entry is None or element is None:
            text = "Неизвестный вид заявки" if entry is None else "Заявка не найдена"
            queue_answer(uow, code, token, {"Valid": "N", "Message": text}, "no request")
            return
        instance = _instance(uow, payload) or _open(ctx, uow, entry, element, payload)
        if instance.state == "invalid":
            message = _invalid_message(uow, entry, instance)
            queue_answer(uow, code, token, {"Valid": "N", "Message": message}, "invalid")
            return
        roles = ctx.directory.approvers(uow.session, instance.site_ref)
        values = {"Valid": "Y", "Message": entry.messages.get("received", "")}
        values |= {
            activities.APPROVER_PROPERTY[role]: _user(roles.get(role))
            for role in activities.APPROVER_PROPERTY
        }
        queue_answer(uow, code, token, values, f"request {instance.request_id}")

    return work


def _without_balance(entry: ProcessEntry) -> ProcessEntry:
    return entry.model_copy(update={"checks": [c for c in entry.checks if not isinstance(c, BalanceCheck)]})


def _open(
    ctx: Context, uow: UnitOfWork, entry: ProcessEntry, element: RequestElement, payload: Mapping[str, Any]
) -> ProcessInstance:
    request_id = request_id_for(str(payload["member_id"]), element.element_id)
    filer = ctx.directory.filer(uow.session, element.created_by)
    at = ctx.clock()
    repo = uow.processes
    repo.open(
        entry,
        request_id=request_id,
        event=Event("receive", f"user_{element.created_by}", data={"element": element.element_id}),
        at=at,
        person_ref=filer.person_ref,
        site_ref=filer.site_ref,
        data={
            "b24_user_id": element.created_by,
            "employee_ref": filer.employee_ref,
            "values": element.values,
            "name": element.name,
            "iblock_id": element.iblock_id,
        },
        b24_element_id=B24ElementId(element.element_id),
        b24_workflow_id=str(payload["workflow_id"]),
    )
    roles = ctx.directory.approvers(uow.session, filer.site_ref)
    if filer.person_ref is None:
        reason = "вы не найдены среди сотрудников в 1С — обратитесь к менеджеру"
        repo.apply(entry, request_id, Event("invalidated", BRIDGE, reason), at)
    elif any(not roles.get(step.approver) for step in entry.approvals):
        reason = "для вашего объекта не назначен согласующий — обратитесь к менеджеру"
        repo.apply(entry, request_id, Event("invalidated", BRIDGE, reason), at)
    else:
        problems = validate_request(_without_balance(entry), element.values, holidays=ctx.holidays)
        if problems:
            repo.apply(entry, request_id, Event("invalidated", BRIDGE, summary(problems)), at)
        elif not any(isinstance(c, BalanceCheck) for c in entry.checks):
            repo.apply(entry, request_id, Event("validated", BRIDGE), at)
    instance = repo.get(request_id, lock=True)
    assert instance is not None
    return instance


def _invalid_message(uow: UnitOfWork, entry: ProcessEntry, instance: ProcessInstance) -> str:
    history = uow.processes.history(instance.request_id)
    return (employee_message(entry, history[-1]) if history else None) or "Заявка не прошла проверку"


# ---- eb_check_balance ----------------------------------------------------------------------------------


async def check_balance(ctx: Context, payload: Mapping[str, Any]) -> Work:
    def work(uow: UnitOfWork) -> None:
        code, token = activities.CHECK_BALANCE.code, str(payload["event_token"])
        instance = _instance(uow, payload)
        if instance is None:
            queue_answer(uow, code, token, {"Valid": "N", "Message": "Заявка не найдена"}, "unknown request")
            return
        entry = ctx.catalog.entry(instance.kind)
        employee_ref = instance.data.get("employee_ref")
        balance = ctx.leave_balance(uow.session, employee_ref, ctx.clock().date()) if employee_ref else None
        shown = "" if balance is None else str(balance)
        if instance.state == "received":
            values = instance.data.get("values") or {}
            problems = validate_request(entry, values, leave_balance=balance, holidays=ctx.holidays)
            event = (
                Event("invalidated", BRIDGE, summary(problems)) if problems else Event("validated", BRIDGE)
            )
            uow.processes.apply(entry, instance.request_id, event, ctx.clock())
        if instance.state == "invalid":
            message = _invalid_message(uow, entry, instance)
            queue_answer(uow, code, token, {"Valid": "N", "Message": message, "Balance": shown}, "invalid")
        else:
            queue_answer(uow, code, token, {"Valid": "Y", "Message": "", "Balance": shown}, "balance ok")

    return work


# ---- eb_record_decision --------------------------------------------------------------------------------


async def record_decision(ctx: Context, payload: Mapping[str, Any]) -> Work:
    def work(uow: UnitOfWork) -> None:
        props = payload.get("properties") or {}
        instance = _instance(uow, payload)
        step = str(props.get("Step") or "")
        if instance is None or instance.state != AWAITING + step:
            log.info("callout.decision_stale", step=step, state=instance.state if instance else None)
            return
        entry = ctx.catalog.entry(instance.kind)
        actor = str(props.get("Approver") or "") or WORKFLOW
        comment = str(props.get("Comment") or "") or None
        timed_out = str(props.get("IsTimeout") or "0") == "1"
        approved = str(props.get("Decision") or "").upper() == "Y"
        if approved:
            _approve(ctx, uow, entry, instance, Event("approve", actor, comment, step=step))
        elif timed_out and next(s for s in entry.approvals if s.code == step).alternate is not None:
            uow.processes.apply(
                entry, instance.request_id, Event("escalate", WORKFLOW, step=step), ctx.clock()
            )
        else:
            uow.processes.apply(
                entry, instance.request_id, Event("reject", actor, comment, step=step), ctx.clock()
            )
        _queue_answer_if_subscribed(uow, payload, activities.RECORD_DECISION.code)

    return work


def _queue_answer_if_subscribed(uow: UnitOfWork, payload: Mapping[str, Any], code: str) -> None:
    if payload.get("use_subscription") == "Y":
        queue_answer(uow, code, str(payload["event_token"]), {}, "recorded")


def _approve(
    ctx: Context, uow: UnitOfWork, entry: ProcessEntry, instance: ProcessInstance, event: Event
) -> None:
    at = ctx.clock()
    history = uow.processes.history(instance.request_id)
    approvals = [
        Approval(r.actor, str(r.data.get("step")), r.at, "Approved", r.reason)
        for r in history
        if r.data.get("event") == "approve"
    ]
    approvals.append(Approval(event.actor, str(event.step), at, "Approved", event.reason))
    data = instance.data or {}
    request = submission(
        entry,
        data.get("values") or {},
        request_id=instance.request_id,
        person_ref=instance.person_ref or "",
        employee_ref=data.get("employee_ref"),
        approvals=approvals,
    )
    # The files go as references; the 1C worker downloads them before it sends (processes/attachments.py).
    refs = attachments.references(
        entry,
        data.get("values") or {},
        iblock_id=data.get("iblock_id"),
        element_id=instance.b24_element_id,
    )
    approve_in(uow, ctx.catalog, instance.request_id, event, at, request, attachment_refs=refs)


# ---- eb_submit_to_1c -----------------------------------------------------------------------------------


async def submit(ctx: Context, payload: Mapping[str, Any]) -> Work:
    entry = _entry(ctx, payload)
    decided = await _approvers_of(ctx, entry, str(payload["workflow_id"])) if entry is not None else {}

    def work(uow: UnitOfWork) -> None:
        code, token = activities.SUBMIT.code, str(payload["event_token"])
        instance = _instance(uow, payload)
        if instance is None:
            queue_answer(
                uow, code, token, {"Accepted": "N", "Message": "Заявка не найдена"}, "unknown request"
            )
            return
        entry = ctx.catalog.entry(instance.kind)
        # The workflow reaches this step only after every approval: a decision whose call-out was lost or
        # has not come yet is recorded with the approver its task names.
        while instance.state.startswith(AWAITING):
            step = instance.state.removeprefix(AWAITING)
            who = decided.get(step)
            event = Event("approve", who or WORKFLOW, None if who else "the workflow approved", step=step)
            _approve(ctx, uow, entry, instance, event)
        _waiting(instance, "submit", token)
        answer_submit(uow, ctx.catalog, instance)

    return work


async def _approvers_of(ctx: Context, entry: ProcessEntry, workflow_id: str) -> dict[str, str]:
    """Who approved each step of a workflow, from its approval tasks (bitrix24-rest.md §5.9: an admin
    lists anyone's; ``ACTIVITY_NAME`` is the step's activity, ``A_<step>`` or ``A_<step>_alt``)."""
    select_ = ["ID", "ACTIVITY_NAME", "USER_ID", "USER_STATUS"]
    rows = await ctx.b24.call(
        "bizproc.task.list", {"SELECT": select_, "FILTER": {"WORKFLOW_ID": workflow_id}}
    )
    names = {name: s.code for s in entry.approvals for name in (f"A_{s.code}", f"A_{s.code}_alt")}
    decided: dict[str, str] = {}
    for row in rows if isinstance(rows, list) else []:
        step = names.get(str(row.get("ACTIVITY_NAME") or ""))
        if step is not None and str(row.get("USER_STATUS")) == "1":
            decided[step] = f"user_{row.get('USER_ID')}"
    return decided


# ---- eb_fetch_document ---------------------------------------------------------------------------------


async def fetch_document(ctx: Context, payload: Mapping[str, Any]) -> Work:
    def work(uow: UnitOfWork) -> None:
        token = str(payload["event_token"])
        instance = _instance(uow, payload)
        if instance is None:
            queue_answer(uow, activities.FETCH_DOCUMENT.code, token, {"Ready": "N"}, "unknown request")
            return
        _waiting(instance, "document", token)
        answer_document(uow, ctx.catalog, instance)

    return work


# ---- the handler table ---------------------------------------------------------------------------------

Prepare = Callable[[Context, Mapping[str, Any]], Awaitable[Work]]
HANDLERS: dict[str, Prepare] = {
    activities.RESOLVE.code: resolve,
    activities.CHECK_BALANCE.code: check_balance,
    activities.RECORD_DECISION.code: record_decision,
    activities.SUBMIT.code: submit,
    activities.FETCH_DOCUMENT.code: fetch_document,
}


def table(ctx: Context) -> dict[str, Callable[[Mapping[str, Any]], Awaitable[Work]]]:
    """The handlers bound to one context, as the inbox dispatcher takes them."""

    def bind(handler: Prepare) -> Callable[[Mapping[str, Any]], Awaitable[Work]]:
        async def run(payload: Mapping[str, Any]) -> Work:
            return await handler(ctx, payload)

        return run

    return {code: bind(handler) for code, handler in HANDLERS.items()}
