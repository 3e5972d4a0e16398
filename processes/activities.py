"""The REST activities the bridge registers in Bitrix24 and the templates call (bitrix24-rest.md §5.11).

Each is a designer action whose HANDLER is the bridge: Bitrix24 POSTs the call-out (§5.12) and, when the
action subscribes, waits for ``bizproc.event.send`` with the declared RETURN_PROPERTIES. ``add_params``
gives the body of ``bizproc.activity.add`` for the installer; processes/bpt.py places the activities in
each template by their designer type ``rest_<md5(client_id@CODE)>`` ([S] Bitrix\\Bizproc\\RestService::
generateInternalCode, CBPRuntime::REST_ACTIVITY_PREFIX).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from processes.catalog import ApproverRole

# The return property that carries each approver role (answered by the resolve activity).
APPROVER_PROPERTY: dict[ApproverRole, str] = {
    "client_approver": "ClientApprover",
    "provider_manager": "ProviderManager",
    "alternate_approver": "AlternateApprover",
}


def _prop(name: str, kind: str = "string", *, required: bool = False) -> dict[str, Any]:
    return {"Name": {"ru": name}, "Type": kind, "Required": "Y" if required else "N", "Multiple": "N"}


@dataclass(frozen=True, slots=True)
class RestActivity:
    code: str
    name: str
    description: str
    properties: dict[str, dict[str, Any]]
    return_properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    use_subscription: bool = True

    def designer_type(self, client_id: str) -> str:
        """The activity's ``Type`` inside a template of the application ``client_id``."""
        digest = hashlib.md5(f"{client_id}@{self.code}".encode(), usedforsecurity=False)
        return "rest_" + digest.hexdigest()

    def add_params(self, handler: str, document_type: list[str], auth_user_id: int = 1) -> dict[str, Any]:
        """The body of ``bizproc.activity.add``."""
        return {
            "CODE": self.code,
            "HANDLER": handler,
            "AUTH_USER_ID": auth_user_id,
            "USE_SUBSCRIPTION": "Y" if self.use_subscription else "N",
            "NAME": {"ru": self.name},
            "DESCRIPTION": {"ru": self.description},
            "PROPERTIES": self.properties,
            "RETURN_PROPERTIES": self.return_properties,
            "DOCUMENT_TYPE": document_type,
            "FILTER": {"INCLUDE": [["lists"]]},
        }


_VERDICT = {"Valid": _prop("Заявка в порядке (Y/N)"), "Message": _prop("Сообщение сотруднику", "text")}

RESOLVE = RestActivity(
    "eb_resolve_approvers",
    "Проверить заявку и найти согласующих",
    "Проверяет форму и находит согласующих объекта сотрудника",
    {"RequestKind": _prop("Вид заявки", required=True)},
    {**_VERDICT, **{p: _prop(p, "user") for p in APPROVER_PROPERTY.values()}},
)
CHECK_BALANCE = RestActivity(
    "eb_check_balance",
    "Проверить остаток отпуска в 1С",
    "Сверяет продолжительность с остатком отпуска, который сообщает 1С",
    {
        "RequestKind": _prop("Вид заявки", required=True),
        "DateFrom": _prop("Дата начала", "date"),
        "DateTo": _prop("Дата окончания", "date"),
    },
    {**_VERDICT, "Balance": _prop("Остаток, дн.", "double")},
)
RECORD_DECISION = RestActivity(
    "eb_record_decision",
    "Записать решение согласующего",
    "Сообщает мосту решение по шагу согласования (без ожидания ответа)",
    {
        "Step": _prop("Шаг", required=True),
        "Decision": _prop("Согласовано (Y/N)", required=True),
        "Approver": _prop("Согласующий", "user"),
        "Comment": _prop("Комментарий", "text"),
        "IsTimeout": _prop("Истёк срок (1/0)"),
    },
    use_subscription=False,
)
SUBMIT = RestActivity(
    "eb_submit_to_1c",
    "Передать заявку в 1С",
    "Создаёт документ в 1С:ЗУП (идемпотентно по идентификатору заявки)",
    {"RequestKind": _prop("Вид заявки", required=True)},
    {
        "Accepted": _prop("Принято 1С (Y/N)"),
        "DocNumber": _prop("Номер документа 1С"),
        "Message": _prop("Сообщение сотруднику", "text"),
    },
)
FETCH_DOCUMENT = RestActivity(
    "eb_fetch_document",
    "Получить документ из 1С",
    "Ждёт готовый файл (справку) из 1С и кладёт его на Диск сотрудника",
    {"RequestKind": _prop("Вид заявки", required=True)},
    {
        "Ready": _prop("Готово (Y/N)"),
        "FileUrl": _prop("Ссылка на файл"),
        "Message": _prop("Сообщение сотруднику", "text"),
    },
)
ALL: tuple[RestActivity, ...] = (RESOLVE, CHECK_BALANCE, RECORD_DECISION, SUBMIT, FETCH_DOCUMENT)
