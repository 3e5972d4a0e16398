"""The Bitrix24 side of ``install``/``uninstall``: read the portal's setup, turn operations into REST calls,
apply them phase by phase, through the Bitrix24 gateway (the only I/O).

Every method name and field literal of the setup lives here, beside the plan it applies
(processes/install.py); it sits in processes/ because it speaks the plan's operation types, which the
connectors layer below may not import (the import contracts in pyproject.toml).
Sources (../shared/reference/bitrix24-rest.md): lists.get / lists.add / lists.delete and lists.field.*
§5.1, §5.5 (``lists.field.get`` without FIELD_ID: a map by field id); bizproc.activity.add/list/delete
§5.11; bizproc.workflow.template.add/list/update/delete §9.1 and bizproc-workflow-template-*.md
(TEMPLATE_DATA is a file: ``[name, base64]``; update takes ``ID`` + ``FIELDS``); event.bind/unbind/get
§6.1, §6.4 (``event_type=offline`` without a handler); placement.bind/unbind/get §9.2. All of them need
the application's OAuth (§9.1), so the gateway here never uses the incoming webhook.

``apply`` runs one phase at a time (processes/install.py ``phase``): read the portal, plan, send the
phase's calls in batches (the gateway splits them into ≤50 and retries what surely did not run). A call
whose answer was lost is not sent again blindly: the phase reads the portal again and plans anew, so what
did happen is seen and only what is still missing is sent (at most ``ROUNDS`` times).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.bitrix24.port import Call
from connectors.bitrix24.reads import PAGE_SIZE
from connectors.errors import Bitrix24Error, ConfigError
from processes import install as plan
from processes.install import Operation, PortalState

if TYPE_CHECKING:
    from config.settings import Settings
    from config.wiring import Store
    from connectors.bitrix24.gateway import Bitrix24Gateway

log = logging.getLogger(__name__)

IBLOCK_TYPE = "bitrix_processes"  # §5.1: "processes in the news feed"
DOCUMENT_ENTITY = ("lists", "BizprocDocument")  # §5.11: DOCUMENT_TYPE of a feed process
AUTO_EXECUTE_ON_CREATE = 1  # CBPDocumentEventType::Create: the workflow starts when a request is filed
LIST_RIGHTS = {"AU": "E"}  # lists-add.md RIGHTS: every authorised user may file (E = add elements)
ROUNDS = 3
FIELD_TYPES: dict[str, str] = {  # catalog field type → lists.field.add TYPE (§5.5)
    "string": "S",
    "text": "S",
    "date": "S:Date",
    "int": "N",
    "decimal": "N",
    "select": "L",
    "bool": "L",
    "file": "F",
    "bik": "S",
    "bank_account": "S",
    "user": "S:employee",
}
TEXT_ROWS = 5


class SetupError(Bitrix24Error):
    """Operations that still failed after the portal was read again and the plan retried."""


def app_gateway(settings: Settings, store: Store) -> Bitrix24Gateway:
    """The gateway through the local application (never the webhook); ConfigError naming what is missing."""
    from connectors.bitrix24 import build_bitrix24, portal_key
    from connectors.bitrix24.auth import StoreVault

    b24 = settings.bitrix24
    if not (b24.app.client_id and b24.app.client_secret.get_secret_value() and b24.portal_url):
        raise ConfigError(
            "install needs the Bitrix24 application: set bitrix24.portal_url, "
            "bitrix24.app.client_id and bitrix24.app.client_secret"
        )
    if not settings.server.public_url:
        raise ConfigError("install needs server.public_url: where Bitrix24 can reach this bridge")
    if StoreVault(store.sessions, portal_key(b24.portal_url)).load() is None:
        raise ConfigError(
            "the Bitrix24 application is not installed on the portal yet: install it there "
            "(its install handler stores the tokens), then run this again"
        )
    app_only = settings.model_copy(update={"bitrix24": b24.model_copy(update={"webhook_url": None})})
    return build_bitrix24(app_only, store)


# -- reading -----------------------------------------------------------------------------------------
async def _paged(port: Bitrix24Gateway, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row, ``start`` offsets of 50 (bitrix24-rest.md §1.3: a short page is the last one)."""
    rows: list[dict[str, Any]] = []
    while True:
        result = await port.call(method, {**params, "start": len(rows)})
        page = result if isinstance(result, list) else []
        rows += page
        if len(page) < PAGE_SIZE:
            return rows


def _yes(value: Any) -> bool:
    return str(value).upper() in ("Y", "1", "TRUE")


def _field_state(row: dict[str, Any]) -> plan.FieldState:
    labels = row.get("DISPLAY_VALUES_FORM") or {}
    return plan.FieldState(
        field_id=str(row["FIELD_ID"]),
        code=str(row.get("CODE") or ""),
        name=str(row.get("NAME") or ""),
        type=str(row.get("TYPE") or ""),
        required=_yes(row.get("IS_REQUIRED")),
        multiple=_yes(row.get("MULTIPLE")),
        sort=int(row.get("SORT") or 0),
        options=frozenset(str(v) for v in (labels.values() if isinstance(labels, dict) else labels)),
    )


async def read_portal(port: Bitrix24Gateway) -> PortalState:
    """The lists of feed processes, activities, templates, bindings and placements of this application."""
    iblocks = await _paged(port, "lists.get", {"IBLOCK_TYPE_ID": IBLOCK_TYPE})
    templates = await _paged(
        port,
        "bizproc.workflow.template.list",
        {"SELECT": ["ID", "NAME", "DESCRIPTION", "DOCUMENT_TYPE"], "FILTER": {"MODULE_ID": "lists"}},
    )
    calls = [
        Call("bizproc.activity.list", {}, "activities"),
        Call("event.get", {}, "events"),
        Call("placement.get", {}, "placements"),
        *(
            Call("lists.field.get", {"IBLOCK_TYPE_ID": IBLOCK_TYPE, "IBLOCK_ID": row["ID"]}, f"f{row['ID']}")
            for row in iblocks
            if str(row.get("CODE") or "").startswith(plan.PREFIX)
        ),
    ]
    outcomes = {o.label: o for o in await port.batch(calls)}
    for outcome in outcomes.values():
        if outcome.error is not None:
            raise SetupError(f"reading the portal's setup failed: {outcome.error.operator_message}")
    lists = {}
    for row in iblocks:
        code = str(row.get("CODE") or "")
        found = outcomes.get(f"f{row['ID']}")
        fields = found.result if found is not None and isinstance(found.result, dict) else {}
        states = [_field_state(f) for f in fields.values() if isinstance(f, dict) and f.get("CODE")]
        lists[code] = plan.ListState(
            int(row["ID"]),
            code,
            str(row.get("NAME") or ""),
            {f.code: f for f in states},
            str(row.get("DESCRIPTION") or ""),
        )
    return PortalState(
        lists=lists,
        activities=frozenset(str(c) for c in outcomes["activities"].result or []),
        templates=tuple(
            plan.TemplateState(
                int(t["ID"]),
                _list_id(t.get("DOCUMENT_TYPE")),
                str(t.get("NAME") or ""),
                str(t.get("DESCRIPTION") or ""),
            )
            for t in templates
        ),
        bindings=frozenset(
            plan.BindingSpec(
                str(b["event"]).upper(),
                "" if _yes(b.get("offline")) else str(b["handler"]),
                _yes(b.get("offline")),
            )
            for b in outcomes["events"].result or []
        ),
        placements=frozenset(
            plan.PlacementSpec(str(p["placement"]), str(p["handler"]), str(p.get("title") or ""))
            for p in outcomes["placements"].result or []
        ),
    )


def _list_id(document_type: Any) -> int:
    value = str(document_type or "")
    return int(value.removeprefix("iblock_")) if value.startswith("iblock_") and value[7:].isdigit() else 0


# -- writing -----------------------------------------------------------------------------------------
def _field_body(spec: plan.FieldSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "NAME": spec.name,
        "TYPE": FIELD_TYPES[spec.kind],
        "CODE": spec.code,
        "IS_REQUIRED": "Y" if spec.required else "N",
        "MULTIPLE": "Y" if spec.multiple else "N",
        "SORT": spec.sort,
    }
    if spec.options:
        body["LIST"] = [
            {"SORT": 10 * (i + 1), "VALUE": label, "XML_ID": value}
            for i, (value, label) in enumerate(spec.options)
        ]
    if spec.kind == "text":
        body["ROW_COUNT"] = TEXT_ROWS
    return body


def _document_type(list_id: int) -> list[str]:
    return [*DOCUMENT_ENTITY, f"iblock_{list_id}"]


def _template_fields(spec: plan.TemplateSpec) -> dict[str, Any]:
    return {
        "NAME": spec.name,
        "DESCRIPTION": spec.description,
        "AUTO_EXECUTE": AUTO_EXECUTE_ON_CREATE,
        "TEMPLATE_DATA": [f"{spec.list_code}.bpt", base64.b64encode(spec.package).decode("ascii")],
    }


def to_call(op: Operation) -> Call | None:
    """The REST call of an operation; None for what cannot be sent (a conflict, a list not there yet)."""
    lists = {"IBLOCK_TYPE_ID": IBLOCK_TYPE}
    match op:
        case plan.AddList(spec):
            fields = {"NAME": spec.name, "DESCRIPTION": spec.description, "BIZPROC": "Y"}
            return Call(
                "lists.add", {**lists, "IBLOCK_CODE": spec.code, "FIELDS": fields, "RIGHTS": LIST_RIGHTS}
            )
        case plan.UpdateList(list_id, spec):  # lists-update.md: fields left out are reset, so all are sent
            fields = {"NAME": spec.name, "DESCRIPTION": spec.description, "BIZPROC": "Y"}
            return Call("lists.update", {**lists, "IBLOCK_ID": list_id, "FIELDS": fields})
        case plan.DeleteList(_code, list_id):
            return Call("lists.delete", {**lists, "IBLOCK_ID": list_id})
        case plan.AddField(code, spec):
            return Call("lists.field.add", {**lists, "IBLOCK_CODE": code, "FIELDS": _field_body(spec)})
        case plan.UpdateField(code, field_id, actual_type, spec, _changed):
            body = {**_field_body(spec), "TYPE": actual_type}
            return Call(
                "lists.field.update", {**lists, "IBLOCK_CODE": code, "FIELD_ID": field_id, "FIELDS": body}
            )
        case plan.AddActivity(spec):
            return Call("bizproc.activity.add", dict(spec.params))
        case plan.DeleteActivity(code):
            return Call("bizproc.activity.delete", {"CODE": code})
        case plan.AddTemplate(spec, list_id) if list_id:
            return Call(
                "bizproc.workflow.template.add",
                {"DOCUMENT_TYPE": _document_type(list_id), **_template_fields(spec)},
            )
        case plan.UpdateTemplate(template_id, spec):
            return Call(
                "bizproc.workflow.template.update", {"ID": template_id, "FIELDS": _template_fields(spec)}
            )
        case plan.DeleteTemplate(template_id, _name):
            return Call("bizproc.workflow.template.delete", {"ID": template_id})
        case plan.Bind(spec) | plan.Unbind(spec):
            body = {"event": spec.event, "event_type": "offline" if spec.offline else "online"}
            if not spec.offline:
                body["handler"] = spec.handler
            return Call("event.bind" if isinstance(op, plan.Bind) else "event.unbind", body)
        case plan.BindPlacement(spec):
            return Call(
                "placement.bind",
                {
                    "PLACEMENT": spec.placement,
                    "HANDLER": spec.handler,
                    "TITLE": spec.title,
                    "LANG_ALL": {"ru": {"TITLE": spec.title}},
                },
            )
        case plan.UnbindPlacement(spec):
            return Call("placement.unbind", {"PLACEMENT": spec.placement, "HANDLER": spec.handler})
    return None


@dataclass
class Outcome:
    applied: list[Operation] = field(default_factory=list)
    """What each phase found missing and then saw done (answers lost on the way included)."""
    conflicts: list[Operation] = field(default_factory=list)


async def apply(port: Bitrix24Gateway, planner: Callable[[PortalState], Sequence[Operation]]) -> Outcome:
    """Bring the portal to what ``planner`` wants, phase by phase; SetupError if some calls keep failing."""
    outcome = Outcome()
    phases = sorted({plan.phase(op) for op in planner(await read_portal(port))})
    for number in phases:
        errors: list[str] = []
        planned: list[Operation] | None = None
        for _round in range(ROUNDS):
            ops = [op for op in planner(await read_portal(port)) if plan.phase(op) == number]
            conflicts = [op for op in ops if isinstance(op, plan.FieldConflict)]
            outcome.conflicts += [op for op in conflicts if op not in outcome.conflicts]
            planned = [op for op in ops if op not in conflicts] if planned is None else planned
            sendable = [(op, call) for op in ops if (call := to_call(op)) is not None]
            errors = [
                _line(op, "not possible yet") for op in ops if to_call(op) is None and op not in conflicts
            ]
            if not sendable:
                break
            results = await port.batch([call for _op, call in sendable])
            errors += [
                _line(op, getattr(result.error, "operator_message", str(result.error)))
                for (op, _call), result in zip(sendable, results, strict=True)
                if result.error is not None
            ]
            if not errors:
                break
            log.warning(
                "bitrix24.setup.phase_failed",
                extra={"phase": number, "failed": len(errors), "next": "reading the portal again"},
            )
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise SetupError(f"portal setup stopped: {errors[0]}{more}")
        outcome.applied += planned or []  # the phase converged: what it found missing is there now
    return outcome


def _line(op: Operation, problem: str) -> str:
    action, target, _detail = plan.describe(op)
    return f"{action} {target}: {problem}"
