"""The Bitrix24 sender: delivers the outbox rows addressed to Bitrix24 through the Bitrix24 connector.

Rows (target ``bitrix24``) and what each becomes:

- ``bizproc.event.send`` — a call-out's answer, sent as queued (processes/answers.py);
- ``im.notify`` — ``im.notify.system.add`` to the employee (``to``, else the user the mirror linked to
  ``person_ref``) with a ``TAG`` from the row, so a resend after a lost answer replaces the first
  notification instead of adding one (bitrix24-rest.md §10.1);
- ``disk.folder.uploadfile`` — the certificate into the root folder of the employee's Drive
  (``disk.storage.getlist`` ENTITY_TYPE ``user``, §10.2); a file of that name already there (an upload
  whose answer was lost) is taken instead of uploading twice; its link is kept on the request and the
  waiting fetch-document call-out answered;
- ``calendar.event.add`` — an approved leave in the employee's calendar (``type`` user, ``ownerId``),
  marked with the request id in its description; an event with that mark in the period is taken instead.

Claims, backoff and dead-lettering follow the 1C worker (store/outbox.py, ``DeliveryPolicy``): a
transient failure (the portal busy or unreachable, a token to refresh) waits and is retried; a refusal
that no retry can change (``ACCESS_DENIED`` for a workflow that ended, a user that is gone) dead-letters
the row at once with its error code, logged without the payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.port import Bitrix24Port
from connectors.errors import Transient
from core.clock import Clock, utcnow
from processes.answers import B24, EVENT_SEND, answer_document
from processes.catalog import Catalog
from processes.outbox_worker import DeliveryPolicy
from store.models import IdentityLink
from store.outbox import Pending
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

NOTIFY = "im.notify"
DRIVE_UPLOAD = "disk.folder.uploadfile"
CALENDAR = "calendar.event.add"


SENDER_POLICY = DeliveryPolicy(initial_backoff=timedelta(seconds=10), max_backoff=timedelta(minutes=30))


class NoRecipient(LookupError):
    """The employee has no Bitrix24 user (not mirrored, or removed): nothing can be delivered."""


@dataclass
class SendReport:
    sent: dict[str, int] = field(default_factory=dict)
    retrying: int = 0
    dead: int = 0
    stale: int = 0


async def send_pending(
    sessions: sessionmaker[Session],
    b24: Bitrix24Port,
    catalog: Catalog,
    *,
    policy: DeliveryPolicy = SENDER_POLICY,
    clock: Clock = utcnow,
) -> SendReport:
    """One pass over due Bitrix24 rows; safe in several processes at once (row claims)."""
    report = SendReport()
    with UnitOfWork(sessions) as uow:
        claimed = uow.outbox.claim(B24, lease=policy.lease, limit=policy.batch, now=clock())
    for row in claimed:
        try:
            settle = await _send(sessions, b24, row)
        except Exception as error:
            _failed(sessions, row, error, policy, clock, report)
            continue
        with UnitOfWork(sessions) as uow:
            if not uow.outbox.settle_sent(row):
                report.stale += 1
                continue
            if settle is not None:
                settle(uow, catalog)
        report.sent[row.kind] = report.sent.get(row.kind, 0) + 1
    return report


def _failed(
    sessions: sessionmaker[Session],
    row: Pending,
    error: Exception,
    policy: DeliveryPolicy,
    clock: Clock,
    report: SendReport,
) -> None:
    code = str(getattr(error, "code", "") or type(error).__name__)
    transient = isinstance(error, Transient) or bool(getattr(error, "transient", False))
    with UnitOfWork(sessions) as uow:
        if transient and row.attempts < policy.max_attempts:
            settled = uow.outbox.retry_later(row, clock() + policy.backoff(row.attempts), code)
            report.retrying += settled
        else:
            settled = uow.outbox.dead_letter(row, code)
            report.dead += settled
    report.stale += not settled
    level = log.warning if transient else log.error
    level("b24_outbox.failed", message_id=row.id, kind=row.kind, attempt=row.attempts, error=code)


def _recipient(sessions: sessionmaker[Session], payload: Mapping[str, Any]) -> int:
    to = payload.get("to")
    if isinstance(to, int) or (isinstance(to, str) and to.isdigit()):
        return int(to)
    with sessions() as session:
        found = session.scalar(
            select(IdentityLink.b24_id).where(
                IdentityLink.kind == "person", IdentityLink.source_ref == str(payload.get("person_ref") or "")
            )
        )
    if found is None:
        raise NoRecipient("the employee has no Bitrix24 user")
    return int(found)


async def _send(sessions: sessionmaker[Session], b24: Bitrix24Port, row: Pending) -> Any:
    """Deliver one row; returns what to record locally with the row's settlement (or None)."""
    p = row.payload
    if row.kind == EVENT_SEND:
        await b24.call(EVENT_SEND, p)
        return None
    if row.kind == NOTIFY:
        params = {"USER_ID": _recipient(sessions, p), "MESSAGE": str(p["message"]), "TAG": f"eb:{row.id}"}
        await b24.call("im.notify.system.add", params)
        return None
    if row.kind == DRIVE_UPLOAD:
        return await _upload(sessions, b24, p)
    if row.kind == CALENDAR:
        await _calendar(sessions, b24, p)
        return None
    raise ValueError(f"unknown Bitrix24 outbox kind {row.kind}")


async def _upload(sessions: sessionmaker[Session], b24: Bitrix24Port, p: Mapping[str, Any]) -> Any:
    user_id = _recipient(sessions, p)
    storages = await b24.call(
        "disk.storage.getlist", {"filter": {"ENTITY_TYPE": "user", "ENTITY_ID": user_id}}
    )
    storage = next((s for s in storages or [] if str(s.get("ENTITY_ID")) == str(user_id)), None)
    if storage is None:
        raise NoRecipient("the employee has no Drive")
    folder = int(storage["ROOT_OBJECT_ID"])
    name = str(p["file_name"])
    children = await b24.call("disk.folder.getchildren", {"id": folder, "filter": {"NAME": name}})
    uploaded = next((c for c in children or [] if c.get("NAME") == name and c.get("TYPE") == "file"), None)
    if uploaded is None:
        uploaded = await b24.call(
            "disk.folder.uploadfile",
            {"id": folder, "data": {"NAME": name}, "fileContent": [name, p["content_b64"]]},
        )
    url = str(uploaded.get("DETAIL_URL") or "")
    request_id = str(p["request_id"])

    def settle(uow: UnitOfWork, catalog: Catalog) -> None:
        instance = uow.processes.get(request_id, lock=True)
        if instance is None:
            return
        instance.data = {**(instance.data or {}), "drive_file_url": url, "drive_file_id": uploaded.get("ID")}
        if not answer_document(uow, catalog, instance):  # no workflow waits: tell the employee the link
            uow.outbox.add(B24, NOTIFY, f"{B24}:{NOTIFY}:{request_id}:file",
                           {"request_id": request_id, "to": user_id, "message": f"Файл: {url}"})  # fmt: skip

    return settle


def marker(request_id: str) -> str:
    return f"[eb {request_id}]"


async def _calendar(sessions: sessionmaker[Session], b24: Bitrix24Port, p: Mapping[str, Any]) -> None:
    owner = _recipient(sessions, p)
    mark = marker(str(p["request_id"]))
    where = {"type": "user", "ownerId": owner, "from": p["date_from"], "to": p["date_to"]}
    existing = await b24.call("calendar.event.get", where)
    if any(mark in str(e.get("DESCRIPTION") or "") for e in existing or []):
        return
    await b24.call(
        CALENDAR,
        {
            "type": "user",
            "ownerId": owner,
            "name": str(p["name"]),
            "from": p["date_from"],
            "to": p["date_to"],
            "skip_time": "Y",
            "accessibility": "absent",
            "description": f"{p.get('description') or ''} {mark}".strip(),
        },
    )
