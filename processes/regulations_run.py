"""Publishing a local act and collecting the confirmations, through Bitrix24 and the store.

* ``publish``: the file goes into the legal entity's group Drive (``disk.storage.getlist`` → its group
  storage, ``disk.storage.uploadfile``), the document is stored, then ``assign`` runs.
* ``assign``: every mirrored employee in the entity's group (``sonet_group.user.get``, role member) gets
  one ``tasks.task.add`` — 50 to a ``batch`` request — tagged with the document; each task is recorded as
  the acknowledgement's first transition in the commit after it was created. A crash in between leaves a
  task without its record: the next run finds it by its tag (``tasks.task.list``) and records it, so
  nobody gets two tasks.
* ``collect``: closed tasks (``REAL_STATUS`` 5) of each open document become ``confirm`` transitions —
  only when the employee closed their own task (a task closed by someone else is no signature).
* ``remind``: open acknowledgements get an ``im.notify`` reminder through the outbox, recorded in the same
  commit, at most once per interval.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24.port import Bitrix24Port, Call
from core.errors import BridgeError
from processes import regulations as reg
from processes.engine import Transition
from store.models import IdentityLink
from store.regulations import RegulationDocument, Regulations
from store.uow import UnitOfWork
from sync.state import linked_persons

log = structlog.get_logger(__name__)

PAGE = 50
NOTIFY_TARGET, NOTIFY_KIND = "bitrix24", "im.notify"


class PublishError(BridgeError):
    """The document cannot be published as asked (the message says what to do)."""


@dataclass
class AssignReport:
    assigned: int = 0
    adopted: int = 0
    already: int = 0
    not_mirrored: int = 0
    failed: int = 0


@dataclass
class CollectReport:
    confirmed: int = 0
    closed_by_someone_else: int = 0
    open: int = 0
    tasks_closed: int = 0
    documents: list[str] = field(default_factory=list)


def _document(row: RegulationDocument) -> reg.Document:
    return reg.Document(
        row.document_id,
        row.org_ref,
        row.title,
        row.file_name,
        row.group_id,
        row.file_id,
        row.deadline,
        row.published_at,
    )


def _entity_group(session: Session, org_ref: str) -> int | None:
    return session.scalar(
        select(IdentityLink.b24_id).where(
            IdentityLink.kind == "organization", IdentityLink.source_ref == org_ref
        )
    )


async def _group_storage(b24: Bitrix24Port, group_id: int) -> int:
    rows = await b24.call("disk.storage.getlist", {"filter": {"ENTITY_TYPE": "group", "ENTITY_ID": group_id}})
    if not rows:
        raise PublishError(
            f"the Bitrix24 group {group_id} has no Drive: enable Drive for the group, then retry"
        )
    return int(rows[0]["ID"])


async def _upload(b24: Bitrix24Port, storage_id: int, name: str, content: bytes) -> int:
    """The file's Drive id: the one already uploaded under this name (a retry), else a new upload."""
    found = await b24.call("disk.storage.getchildren", {"id": storage_id, "filter": {"NAME": name}})
    for row in found or []:
        if row.get("TYPE") == "file" and row.get("NAME") == name:
            return int(row["ID"])
    encoded = base64.b64encode(content).decode()
    row = await b24.call(
        "disk.storage.uploadfile", {"id": storage_id, "data": {"NAME": name}, "fileContent": [name, encoded]}
    )
    return int(row["ID"])


async def publish(
    b24: Bitrix24Port,
    sessions: sessionmaker[Session],
    *,
    org_ref: str,
    file_name: str,
    content: bytes,
    title: str,
    deadline: date,
    portal_url: str,
    at: datetime,
) -> tuple[reg.Document, AssignReport]:
    """Publish ``content`` to the entity's group and give every employee of it a task (idempotent)."""
    if not content:
        raise PublishError(f"{file_name} is empty: publish the document itself")
    doc_id = reg.document_id(org_ref, file_name, content)
    with sessions() as session:
        row = Regulations(session).document(doc_id)
        group_id = row.group_id if row is not None else _entity_group(session, org_ref)
    if group_id is None:
        raise PublishError(
            f"legal entity {org_ref} has no Bitrix24 group yet: run `extranet-bridge sync` first"
        )
    if row is None:
        file_id = await _upload(b24, await _group_storage(b24, group_id), file_name, content)
        with UnitOfWork(sessions) as uow:
            row = Regulations(uow.session).add_document(
                RegulationDocument(
                    document_id=doc_id,
                    org_ref=org_ref,
                    title=title,
                    file_name=file_name,
                    group_id=group_id,
                    file_id=file_id,
                    deadline=deadline,
                    published_at=at,
                )
            )
            doc = _document(row)
    else:
        doc = _document(row)
    return doc, await assign(b24, sessions, doc, portal_url=portal_url, at=at)


async def _task_pages(b24: Bitrix24Port, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every task of a ``tasks.task.list`` filter: the first page tells the total, the rest go 50 pages to a
    ``batch`` request by ``start`` offsets (tasks rows key their id ``id``, so no ``>ID`` keyset here)."""
    first = await b24.call("tasks.task.list", {**params, "order": {"ID": "asc"}, "start": 0})
    rows: list[dict[str, Any]] = list((first or {}).get("tasks") or [])
    if len(rows) < PAGE:
        return rows
    start = PAGE
    while True:
        calls = [
            Call("tasks.task.list", {**params, "order": {"ID": "asc"}, "start": start + k * PAGE}, f"p{k}")
            for k in range(PAGE)
        ]
        outcomes = await b24.batch(calls)
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error  # type: ignore[misc]  # a CallError is a Bitrix24ApiError
            page = list((outcome.result or {}).get("tasks") or [])
            rows.extend(page)
            if len(page) < PAGE:
                return rows
        start += PAGE * PAGE


async def _names(b24: Bitrix24Port, user_ids: Sequence[int]) -> dict[int, str]:
    chunks = [list(user_ids[i : i + PAGE]) for i in range(0, len(user_ids), PAGE)]
    calls = [Call("user.get", {"FILTER": {"ID": chunk}}, f"u{n}") for n, chunk in enumerate(chunks)]
    names: dict[int, str] = {}
    for outcome in await b24.batch(calls) if calls else []:
        for user in outcome.result or []:
            full = " ".join(str(user.get(k) or "") for k in ("LAST_NAME", "NAME", "SECOND_NAME")).split()
            names[int(user["ID"])] = " ".join(full)
    return names


def _record(event: reg.AckEvent, at: datetime) -> Any:
    def build(ack: str, last: Transition | None) -> Transition:
        return reg.record(ack, last, event, at)

    return build


async def assign(
    b24: Bitrix24Port, sessions: sessionmaker[Session], doc: reg.Document, *, portal_url: str, at: datetime
) -> AssignReport:
    report = AssignReport()
    members = await b24.call("sonet_group.user.get", {"ID": doc.group_id})
    member_ids = {int(m["USER_ID"]) for m in members or [] if m.get("ROLE") == "K"}
    with sessions() as session:
        person_of = {int(uid): ref for ref, uid in linked_persons(session).items()}
        acked = {i.person_ref for i in Regulations(session).acknowledgements(doc.document_id)}
    report.not_mirrored = len(member_ids - person_of.keys())
    todo = sorted(uid for uid in member_ids & person_of.keys() if person_of[uid] not in acked)
    report.already = len(member_ids & person_of.keys()) - len(todo)
    if not todo:
        return report
    tasks = await _task_pages(b24, {"filter": {"TAG": doc.tag}, "select": ["ID", "RESPONSIBLE_ID"]})
    existing = {int(t["responsibleId"]): int(t["id"]) for t in tasks}
    names = await _names(b24, todo)
    adopt = [uid for uid in todo if uid in existing]
    create = [uid for uid in todo if uid not in existing]
    _save(sessions, doc, [(uid, existing[uid], True) for uid in adopt], person_of, names, at)
    report.adopted = len(adopt)
    for start in range(0, len(create), PAGE):
        chunk = create[start : start + PAGE]
        calls = [
            Call("tasks.task.add", {"fields": reg.task_fields(doc, uid, portal_url)}, f"t{uid}")
            for uid in chunk
        ]
        made: list[tuple[int, int, bool]] = []
        for uid, outcome in zip(chunk, await b24.batch(calls), strict=True):
            if outcome.error is None:
                made.append((uid, int(outcome.result["task"]["id"]), False))
            else:
                report.failed += 1
                log.warning("regulations.task_refused", document=doc.document_id, error=outcome.error.code)
        _save(sessions, doc, made, person_of, names, at)
        report.assigned += len(made)
    return report


def _save(
    sessions: sessionmaker[Session],
    doc: reg.Document,
    tasks: Iterable[tuple[int, int, bool]],
    person_of: Mapping[int, str],
    names: Mapping[int, str],
    at: datetime,
) -> None:
    with UnitOfWork(sessions) as uow:
        repo = Regulations(uow.session)
        for uid, task_id, adopted in tasks:
            ref = person_of[uid]
            event = reg.AckEvent("assign", "bridge", data={"task_id": task_id, "adopted": adopted})
            data = {"b24_user_id": uid, "task_id": task_id, "name": names.get(uid, "")}
            repo.append(reg.ack_id(doc.document_id, ref), _record(event, at), at, person_ref=ref, data=data)


async def collect(b24: Bitrix24Port, sessions: sessionmaker[Session], at: datetime) -> CollectReport:
    """Record the confirmations Bitrix24 holds for every document that still has open acknowledgements, and
    close the tasks of those the employee confirmed in the portal's cabinet (the bridge created them)."""
    report = CollectReport()
    with sessions() as session:
        repo = Regulations(session)
        open_docs: list[tuple[reg.Document, dict[int, str]]] = []
        to_close: list[tuple[str, Any]] = []
        for row in repo.documents():
            waiting: dict[int, str] = {}
            for instance in repo.acknowledgements(row.document_id):
                if instance.state == "assigned":
                    waiting[int(instance.data.get("task_id") or 0)] = instance.request_id
                elif instance.state == "confirmed" and not instance.data.get("task_closed"):
                    to_close.append((instance.request_id, instance.data.get("task_id")))
            if waiting:
                open_docs.append((_document(row), waiting))
    for doc, waiting in open_docs:
        report.documents.append(doc.document_id)
        select_ = ["ID", "RESPONSIBLE_ID", "CLOSED_BY", "CLOSED_DATE"]
        closed = await _task_pages(b24, {"filter": {"TAG": doc.tag, "REAL_STATUS": 5}, "select": select_})
        with UnitOfWork(sessions) as uow:
            repo = Regulations(uow.session)
            for task in closed:
                ack = waiting.pop(int(task["id"]), None)
                if ack is None:
                    continue
                if str(task.get("closedBy")) != str(task.get("responsibleId")):
                    report.closed_by_someone_else += 1
                    waiting[int(task["id"])] = ack
                    continue
                when = str(task.get("closedDate") or "")
                event = reg.AckEvent("confirm", f"b24:{task['closedBy']}", data={"closed_at": when})
                repo.append(ack, _record(event, at), at, data={"task_closed": True})
                report.confirmed += 1
        report.open += len(waiting)
    report.tasks_closed = await _close_tasks(b24, sessions, to_close)
    return report


async def _close_tasks(
    b24: Bitrix24Port, sessions: sessionmaker[Session], acks: Sequence[tuple[str, Any]]
) -> int:
    """``tasks.task.complete`` for acknowledgements confirmed elsewhere; a task already closed or deleted
    counts as closed too (nothing is left for the employee to do)."""
    closed = 0
    for start in range(0, len(acks), PAGE):
        chunk = [(ack, task) for ack, task in acks[start : start + PAGE] if task]
        calls = [
            Call("tasks.task.complete", {"taskId": task}, f"c{n}") for n, (_ack, task) in enumerate(chunk)
        ]
        outcomes = await b24.batch(calls) if calls else []
        done = [
            ack
            for (ack, _task), outcome in zip(chunk, outcomes, strict=True)
            if outcome.error is None or outcome.error.code == "ERROR_CORE"
        ]
        with UnitOfWork(sessions) as uow:
            Regulations(uow.session).mark(done, task_closed=True)
        closed += len(done)
    return closed


async def remind(sessions: sessionmaker[Session], now: datetime, every: timedelta) -> int:
    """Queue a reminder for every acknowledgement left open ``every`` long since its task or last reminder."""
    sent = 0
    with sessions() as session:
        repo = Regulations(session)
        due = [
            (_document(row), ack.request_id, ack.data.get("b24_user_id"), ack.person_ref)
            for row in repo.documents()
            for ack in repo.acknowledgements(row.document_id)
            if reg.reminder_due(ack.state, ack.updated_at, now, every)
        ]
    for doc, ack, user_id, person_ref in due:
        with UnitOfWork(sessions) as uow:
            record = Regulations(uow.session).append(ack, _record(reg.AckEvent("remind", "bridge"), now), now)
            payload = {
                "request_id": ack,
                "to": user_id,
                "person_ref": person_ref,
                "message": reg.reminder_text(doc),
            }
            key = f"{NOTIFY_TARGET}:{NOTIFY_KIND}:{ack}:{record.seq}"
            uow.outbox.add(NOTIFY_TARGET, NOTIFY_KIND, key, payload)
        sent += 1
    return sent


def sheet(sessions: sessionmaker[Session], document: str) -> tuple[reg.Document, bytes]:
    """The document and its confirmation sheet (XLSX); PublishError for an unknown document."""
    with sessions() as session:
        repo = Regulations(session)
        row = repo.document(document)
        if row is None:
            raise PublishError(
                f"no published document {document}: `extranet-bridge regulations list` shows them"
            )
        rows = []
        for ack in repo.acknowledgements(document):
            history = repo.history(ack.request_id)
            confirm = next(
                (r for r in history if r.to_state == "confirmed" and r.from_state != "confirmed"), None
            )
            rows.append(
                reg.SheetRow(
                    person_ref=ack.person_ref or "",
                    name=str(ack.data.get("name") or ""),
                    state=ack.state,
                    assigned_at=history[0].at,
                    confirmed_at=_parsed(confirm.data.get("closed_at")) or confirm.at if confirm else None,
                    confirmed_by=confirm.actor if confirm else None,
                )
            )
        doc = _document(row)
    return doc, reg.confirmation_sheet(doc, rows)


def _parsed(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
