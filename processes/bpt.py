"""A catalog entry as a real Bitrix24 workflow template: the ``.bpt`` file the designer exports and
``bizproc.workflow.template.add`` imports.

The file is PHP ``serialize()`` of ``{VERSION: 2, TEMPLATE, PARAMETERS, VARIABLES, CONSTANTS,
DOCUMENT_FIELDS}``, zlib-compressed (``gzcompress``) — [S] Bitrix\\Bizproc\\Workflow\\Template\\Packer\\Bpt
``makePackageData``/``pack``/``unpack``. TEMPLATE is one SequentialWorkflowActivity whose children are
designer activities, each ``{Type, Name, Properties, Children}`` with names unique in the template:
SetFieldActivity (``FieldValue``), IMNotifyActivity (system notification, ``MessageType`` 4),
ApproveActivity (its two SequenceActivity children run on approval / rejection; ``TimeoutDuration`` sends
a silent approver's task to the rejection branch with ``IsTimeout`` = 1), IfElseActivity with
IfElseBranchActivity children (``mixedcondition`` rows ``{object, field, operator, value, joiner}``, the
last branch ``truecondition``), TerminateActivity, and our REST activities (processes/activities.py).
Serialisation is the ``phpserialize`` library's; nothing here writes the format by hand.

The flow of every entry: check the form and find the approvers (stop with the bridge's message if it is
not valid), check the leave balance in 1C where the entry says so, one approval per step (escalated to the
alternate after the deadline, each decision reported to the bridge), submit to 1C, and fetch the document
where 1C produces one. The bridge tells the employee the final 1C outcome itself.
"""

from __future__ import annotations

import zlib
from typing import Any

import phpserialize

from processes import activities
from processes.activities import APPROVER_PROPERTY, RestActivity
from processes.catalog import ApprovalStep, ApproverRole, BalanceCheck, FormField, ProcessEntry

STATUS_FIELD = "EB_STATUS"
AUTHOR = "{=Document:CREATED_BY}"
IM_NOTIFY_SYSTEM = 4  # [S] im module constant: a system notification, FROM_USER_ID 0
# Bizproc document field types for the catalog's form field types.
_FIELD_TYPES = {
    "string": "string",
    "text": "text",
    "date": "date",
    "int": "int",
    "decimal": "double",
    "select": "select",
    "bool": "bool",
    "file": "file",
    "bik": "string",
    "bank_account": "string",
    "user": "user",
}
STATUS_TEXT = {
    "checking": "На проверке",
    "invalid": "Не отправлено: ошибки в заявке",
    "approving": "На согласовании",
    "rejected": "Не согласовано",
    "approved": "Согласовано",
    "submit_failed": "Не передано в 1С",
    "submitted": "Передано в 1С",
}


def property_code(field_code: str) -> str:
    """The list property's CODE for a form field (``date_from`` → ``DATE_FROM``)."""
    return field_code.upper()


def document_field(field_code: str) -> str:
    """The bizproc document field id of a list property, by its code (``PROPERTY_DATE_FROM``)."""
    return f"PROPERTY_{property_code(field_code)}"


def _activity(kind: str, name: str, properties: dict[str, Any], children: list[Any] | None = None) -> Any:
    node: dict[str, Any] = {"Type": kind, "Name": name, "Properties": properties}
    if children is not None:
        node["Children"] = children
    return node


def _set_status(name: str, status: str) -> Any:
    return _activity(
        "SetFieldActivity",
        name,
        {"Title": "Статус заявки", "FieldValue": {document_field(STATUS_FIELD): STATUS_TEXT[status]}},
    )


def _notify(name: str, message: str) -> Any:
    return _activity(
        "IMNotifyActivity",
        name,
        {
            "Title": "Сообщение сотруднику",
            "MessageUserFrom": "",
            "MessageUserTo": [AUTHOR],
            "MessageSite": message,
            "MessageOut": message,
            "MessageType": IM_NOTIFY_SYSTEM,
        },
    )


def _rest(spec: RestActivity, client_id: str, name: str, title: str, values: dict[str, Any]) -> Any:
    return _activity(
        spec.designer_type(client_id),
        name,
        {
            "Title": title,
            "UseSubscription": "Y" if spec.use_subscription else "N",
            "AuthUserId": "",
            "SetStatusMessage": "Y",
            "StatusMessage": title,
            "TimeoutDuration": 0,
            "TimeoutDurationType": "s",
            **values,
        },
    )


def _if(name: str, condition: dict[str, Any], then: list[Any], otherwise: list[Any]) -> Any:
    """IfElseActivity: the first branch when ``condition`` holds, else the second."""
    return _activity(
        "IfElseActivity",
        name,
        {"Title": "Условие"},
        [
            _activity(
                "IfElseBranchActivity",
                f"{name}_yes",
                {"Title": "Да", "mixedcondition": [{**condition, "joiner": 0}]},
                then,
            ),
            _activity(
                "IfElseBranchActivity", f"{name}_no", {"Title": "Нет", "truecondition": "1"}, otherwise
            ),
        ],
    )


def _stop_unless_valid(check: str) -> Any:
    """When the check activity answered Valid ≠ Y: tell the employee its message and stop."""
    return _if(
        f"{check}_failed",
        {"object": check, "field": "Valid", "operator": "!=", "value": "Y"},
        [
            _notify(f"{check}_tell", f"{{={check}:Message}}"),
            _set_status(f"{check}_status", "invalid"),
            _activity("TerminateActivity", f"{check}_stop", {"Title": "Завершение", "StateTitle": "Ошибки"}),
        ],
        [],
    )


class _Builder:
    def __init__(self, entry: ProcessEntry, client_id: str) -> None:
        self.entry, self.client_id = entry, client_id

    def rest(self, spec: RestActivity, name: str, title: str, **values: Any) -> Any:
        return _rest(spec, self.client_id, name, title, values)

    def decision(self, approve: str, step: ApprovalStep, approved: bool) -> Any:
        return self.rest(
            activities.RECORD_DECISION,
            f"{approve}_{'yes' if approved else 'no'}_record",
            "Записать решение",
            Step=step.code,
            Decision="Y" if approved else "N",
            Approver=f"{{={approve}:LastApprover}}",
            Comment=f"{{={approve}:Comments}}",
            IsTimeout=f"{{={approve}:IsTimeout}}",
        )

    def rejected(self, approve: str, step: ApprovalStep) -> list[Any]:
        told = self.entry.messages["rejected"].replace("{reason}", f"{{={approve}:Comments}}")
        return [
            self.decision(approve, step, False),
            _set_status(f"{approve}_rejected_status", "rejected"),
            _notify(f"{approve}_rejected_tell", told),
            _activity(
                "TerminateActivity", f"{approve}_stop", {"Title": "Завершение", "StateTitle": "Отклонено"}
            ),
        ]

    def approval(self, name: str, step: ApprovalStep, approver: ApproverRole, timeout: bool) -> Any:
        summary = "; ".join(f"{f.label}: {{=Document:{document_field(f.code)}}}" for f in self.entry.fields)
        users = [f"{{=A_check:{APPROVER_PROPERTY[approver]}}}"]
        rejected = self.rejected(name, step)
        if timeout and step.alternate is not None:
            alternate = self.approval(f"{name}_alt", step, step.alternate, timeout=False)
            rejected = [
                _if(
                    f"{name}_silent",
                    {"object": name, "field": "IsTimeout", "operator": "=", "value": "1"},
                    [alternate],
                    rejected,
                )
            ]
        return _activity(
            "ApproveActivity",
            name,
            {
                "Title": step.title,
                "Users": users,
                "ApproveType": "any",
                "OverdueDate": "",
                "ApproveMinPercent": 50,
                "ApproveWaitForAll": "N",
                "Name": f"{step.title}: {{=Document:NAME}}",
                "Description": f"{self.entry.title}. {summary}",
                "Parameters": "",
                "StatusMessage": step.title,
                "SetStatusMessage": "Y",
                "TimeoutDuration": step.deadline_hours if timeout and step.alternate else 0,
                "TimeoutDurationType": "h",
                "TaskButton1Message": "Согласовать",
                "TaskButton2Message": "Отклонить",
                "CommentLabelMessage": "Комментарий",
                "ShowComment": "Y",
                "CommentRequired": "YR" if step.comment_required_on_reject else "N",
                "AccessControl": "N",
                "DelegationType": 0,
            },
            [
                _activity(
                    "SequenceActivity",
                    f"{name}_approved",
                    {"Title": "Согласовано"},
                    [self.decision(name, step, True)],
                ),
                _activity("SequenceActivity", f"{name}_rejected", {"Title": "Не согласовано"}, rejected),
            ],
        )

    def children(self) -> list[Any]:
        entry = self.entry
        kind = {"RequestKind": entry.code}
        out = [
            _set_status("A_status_checking", "checking"),
            self.rest(activities.RESOLVE, "A_check", "Проверить заявку и найти согласующих", **kind),
            _stop_unless_valid("A_check"),
        ]
        balance = next((c for c in entry.checks if isinstance(c, BalanceCheck)), None)
        if balance is not None:
            out += [
                self.rest(
                    activities.CHECK_BALANCE,
                    "A_balance",
                    "Проверить остаток отпуска в 1С",
                    DateFrom=f"{{=Document:{document_field(balance.start)}}}",
                    DateTo=f"{{=Document:{document_field(balance.end)}}}",
                    **kind,
                ),
                _stop_unless_valid("A_balance"),
            ]
        out.append(_set_status("A_status_approving", "approving"))
        for step in entry.approvals:
            out.append(self.approval(f"A_{step.code}", step, step.approver, timeout=True))
        out += [
            _set_status("A_status_approved", "approved"),
            self.rest(activities.SUBMIT, "A_submit", "Передать заявку в 1С", **kind),
            _if(
                "A_submit_failed",
                {"object": "A_submit", "field": "Accepted", "operator": "!=", "value": "Y"},
                [
                    _set_status("A_submit_failed_status", "submit_failed"),
                    _notify("A_submit_failed_tell", "{=A_submit:Message}"),
                    _activity("TerminateActivity", "A_submit_stop", {"Title": "Завершение"}),
                ],
                [],
            ),
            _set_status("A_status_submitted", "submitted"),
            _notify("A_approved_tell", entry.messages["approved"]),
        ]
        if entry.onec.fetch_document:
            out += [
                self.rest(activities.FETCH_DOCUMENT, "A_document", "Получить документ из 1С", **kind),
                _notify("A_document_tell", "{=A_document:Message}"),
            ]
        return out


def _document_fields(entry: ProcessEntry) -> dict[str, Any]:
    def one(f: FormField, sort: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": f.label,
            "Type": _FIELD_TYPES[f.type],
            "Multiple": f.multiple,
            "Required": f.required,
            "sort": sort,
        }
        if f.options:
            out["Options"] = dict(f.options)
        return out

    fields = {document_field(f.code): one(f, 10 * (i + 1)) for i, f in enumerate(entry.fields)}
    fields[document_field(STATUS_FIELD)] = {
        "Name": "Статус",
        "Type": "string",
        "Multiple": False,
        "Required": False,
        "sort": 10 * (len(entry.fields) + 1),
    }
    return fields


def template(entry: ProcessEntry, client_id: str) -> dict[str, Any]:
    """The array the ``.bpt`` file serialises (Python dicts and lists)."""
    root = _activity(
        "SequentialWorkflowActivity",
        "Template",
        {"Title": entry.title, "Permission": []},
        _Builder(entry, client_id).children(),
    )
    return {
        "VERSION": 2,
        "TEMPLATE": [root],
        "PARAMETERS": [],
        "VARIABLES": [],
        "CONSTANTS": [],
        "DOCUMENT_FIELDS": _document_fields(entry),
    }


def pack(datum: dict[str, Any]) -> bytes:
    """PHP ``serialize()`` then ``gzcompress(…, 9)``, as Bitrix24's exporter writes it."""
    return zlib.compress(phpserialize.dumps(datum), 9)


def build(entry: ProcessEntry, client_id: str) -> bytes:
    """The ``.bpt`` file of a catalog entry for the application ``client_id``."""
    return pack(template(entry, client_id))


def _lists(value: Any) -> Any:
    """PHP arrays come back as dicts; a dict keyed 0..n-1 is a list."""
    if isinstance(value, dict):
        items = {k: _lists(v) for k, v in value.items()}
        if items and list(items) == list(range(len(items))):
            return list(items.values())
        return items
    return value


def unpack(raw: bytes) -> dict[str, Any]:
    """Read a ``.bpt`` file (compressed or not) back into Python values; ValueError if it is not one."""
    for data in (raw, _inflate(raw)):
        if data is None:
            continue
        try:
            datum = phpserialize.loads(data, decode_strings=True)
        except (ValueError, IndexError, TypeError):
            continue
        if isinstance(datum, dict) and "TEMPLATE" in datum:
            result: dict[str, Any] = _lists(datum)
            return result
    raise ValueError("not a Bitrix24 workflow template (.bpt)")


def _inflate(raw: bytes) -> bytes | None:
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return None
