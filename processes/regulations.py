"""Acknowledgement of local regulations (ознакомление с ЛНА): who must read a document, and the proof.

Labour law wants each employee's signature under every local act of their employer. HR publishes the
document into the legal entity's group Drive; each employee of that entity gets a Bitrix24 task "read and
confirm"; closing the task is the confirmation. Every step of one employee's acknowledgement is a record
hashed into a chain exactly as processes/engine.py hashes requests (``verify_chain`` checks both), so the
confirmation sheet rests on a history nobody can edit unseen.

| event | from | to |
|---|---|---|
| ``assign`` (task id) | (none) | ``assigned`` |
| ``remind`` | ``assigned`` | ``assigned`` |
| ``confirm`` (closed by, when) | ``assigned`` | ``confirmed`` |
| ``withdraw`` (reason) | ``assigned`` | ``withdrawn`` |

Pure: no I/O, no clock. processes/regulations_run.py talks to Bitrix24 and the store.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from core.spreadsheet import safe_cell
from processes.engine import IllegalTransition, Transition, row_hash

KIND = "regulation_ack"
"""``process_instances.kind`` of one employee's acknowledgement of one document."""
AckEventName = Literal["assign", "remind", "confirm", "withdraw"]
STATE_LABELS = {"assigned": "не ознакомлен", "confirmed": "ознакомлен", "withdrawn": "отозвано"}
_MOVES: dict[tuple[str | None, str], str] = {
    (None, "assign"): "assigned",
    ("assigned", "remind"): "assigned",
    ("assigned", "confirm"): "confirmed",
    ("assigned", "withdraw"): "withdrawn",
}


@dataclass(frozen=True, slots=True)
class Document:
    """A published local act: where it lives in Bitrix24 and until when it must be read."""

    document_id: str
    org_ref: str
    title: str
    file_name: str
    group_id: int
    file_id: int
    deadline: date
    published_at: datetime

    @property
    def tag(self) -> str:
        """The tag of its tasks: how the bridge finds them again after a crash."""
        return f"lna-{self.document_id}"


@dataclass(frozen=True, slots=True)
class AckEvent:
    name: AckEventName
    actor: str
    reason: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def document_id(org_ref: str, file_name: str, content: bytes) -> str:
    """The same file published twice to one entity is one document."""
    digest = hashlib.sha256()
    for part in (org_ref.encode(), file_name.encode(), content):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:16]


def ack_id(document: str, person_ref: str) -> str:
    return f"lna:{document}:{person_ref}"


def next_state(state: str | None, event: AckEvent) -> str:
    found = _MOVES.get((state, event.name))
    if found is None:
        raise IllegalTransition(f"{event.name} does not apply to an acknowledgement in state {state!r}")
    return found


def record(ack: str, last: Transition | None, event: AckEvent, at: datetime) -> Transition:
    """The next record of the acknowledgement whose latest record is ``last`` (hashed as the engine does)."""
    from_state = last.to_state if last else None
    to_state = next_state(from_state, event)
    data: dict[str, Any] = json.loads(json.dumps({**event.data, "event": event.name}, default=str))
    seq = last.seq + 1 if last else 1
    prev = last.row_hash if last else None
    digest = row_hash(ack, seq, from_state, to_state, event.actor, event.reason, data, at, prev)
    return Transition(ack, seq, from_state, to_state, event.actor, event.reason, data, at, prev, digest)


def task_fields(doc: Document, user_id: int, portal_url: str) -> dict[str, Any]:
    """``tasks.task.add`` fields: one task per employee, the file attached (``n<id>``, tasks fields.md)."""
    return {
        "TITLE": f"Ознакомиться: {doc.title}",
        "DESCRIPTION": (
            f"Прочитайте документ «{doc.title}» ({doc.file_name}) и закройте задачу — это подтверждение "
            f"ознакомления. Документ: {portal_url.rstrip('/')}/workgroups/group/{doc.group_id}/disk/path/"
        ),
        "RESPONSIBLE_ID": user_id,
        "GROUP_ID": doc.group_id,
        "DEADLINE": f"{doc.deadline.isoformat()}T18:00:00",
        "TAGS": [doc.tag],
        "UF_TASK_WEBDAV_FILES": [f"n{doc.file_id}"],
    }


def reminder_due(state: str, last_change: datetime, now: datetime, every: timedelta) -> bool:
    """An open acknowledgement is reminded when its last assign or reminder is ``every`` old."""
    if state != "assigned":
        return False
    return now - last_change >= every


def reminder_text(doc: Document) -> str:
    return (
        f"Напоминание: ознакомьтесь с документом «{doc.title}» до {doc.deadline:%d.%m.%Y} "
        "и закройте задачу в Битрикс24."
    )


SHEET_COLUMNS = ("№", "Сотрудник", "Ссылка 1С", "Статус", "Назначено", "Ознакомлен", "Кем закрыта задача")


@dataclass(frozen=True, slots=True)
class SheetRow:
    person_ref: str
    name: str
    state: str
    assigned_at: datetime
    confirmed_at: datetime | None
    confirmed_by: str | None


def confirmation_sheet(doc: Document, rows: Sequence[SheetRow]) -> bytes:
    """Лист ознакомления as XLSX: one line per employee, confirmed first, then who has not read it."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Лист ознакомления"
    sheet.append([f"Лист ознакомления с документом «{doc.title}»"])
    sheet["A1"].font = Font(bold=True)
    sheet.append(
        [f"Файл: {doc.file_name}; опубликован {doc.published_at:%d.%m.%Y}; срок {doc.deadline:%d.%m.%Y}"]
    )
    sheet.append([])
    sheet.append(
        ["№", "Сотрудник", "Табельная ссылка 1С", "Статус", "Назначено", "Ознакомлен", "Кем закрыта задача"]
    )
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    ordered = sorted(rows, key=lambda r: (r.state != "confirmed", r.name, r.person_ref))
    for n, row in enumerate(ordered, 1):
        sheet.append(
            [
                n,
                safe_cell(row.name),
                safe_cell(row.person_ref),
                STATE_LABELS.get(row.state, row.state),
                row.assigned_at.strftime("%d.%m.%Y %H:%M"),
                row.confirmed_at.strftime("%d.%m.%Y %H:%M") if row.confirmed_at else "",
                safe_cell(row.confirmed_by or ""),
            ]
        )
    for column, width in zip("ABCDEFG", (5, 36, 22, 16, 18, 18, 20), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
