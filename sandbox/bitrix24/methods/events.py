"""``event.bind/unbind/get``, ``events`` and the offline queue ``event.offline.get/clear/error``.

All of them need application authorization (bitrix24-rest.md §6.1, §9.1); parameter names are lowercase
(§1.4). Sources: §6.1 (bind/unbind/get/events, ERROR_EVENT_NOT_FOUND, ACCESS_DENIED for offline or a
foreign auth_type by a non-admin, ERROR_HANDLER_ALREADY_EXIST), §6.4 (offline: admin; clear=1 deletes what
is read, clear=0 reserves under a process_id; event.offline.clear confirms, event.offline.error marks).
"""

from __future__ import annotations

import secrets
from typing import Any

from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.presenters import matches, split_operator
from sandbox.bitrix24.state import Binding, Portal

# §6.3 documented event names, by scope ("basic" = app lifecycle, bindable by any app).
EVENTS_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "basic": (
        "ONAPPINSTALL",
        "ONAPPUNINSTALL",
        "ONAPPUPDATE",
        "ONAPPPAYMENT",
        "ONAPPTEST",
        "ONAPPMETHODCONFIRM",
        "ONOFFLINEEVENT",
        "ONUSERADD",  # on-user-add.md: "Scope: basic"
    ),
    "sonet_group": ("ONSONETGROUPADD", "ONSONETGROUPUPDATE", "ONSONETGROUPDELETE"),
    "task": (
        "ONTASKADD",
        "ONTASKUPDATE",
        "ONTASKDELETE",
        "ONTASKCOMMENTADD",
        "ONTASKCOMMENTUPDATE",
        "ONTASKCOMMENTDELETE",
    ),
}
"""Other method families may add their events here (``EVENTS_BY_SCOPE.setdefault(scope, ...)``)."""


def known_events(scopes: frozenset[str] | None) -> list[str]:
    names: list[str] = []
    for scope, events in EVENTS_BY_SCOPE.items():
        if scopes is None or scope == "basic" or scope in scopes:
            names.extend(events)
    return names


def _auth_type(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@method("event.bind", scope="basic", app_only=True)
def event_bind(ctx: CallContext, params: dict[str, Any]) -> bool:
    portal: Portal = ctx.portal
    event = str(params.get("event") or "").upper()
    if event not in known_events(ctx.caller.scopes):
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    event_type = str(params.get("event_type") or "online").lower()
    auth_type = _auth_type(params.get("auth_type"))
    if not ctx.caller.is_admin and (event_type == "offline" or auth_type not in (0, ctx.caller.user_id)):
        raise RestError("ACCESS_DENIED", "Access denied!", 403)  # §6.1: offline / foreign auth_type
    handler = str(params.get("handler") or "")
    if event_type != "offline" and not handler:
        raise RestError("ERROR_ARGUMENT", "Argument 'handler' is null or empty", 400, argument="handler")
    if event_type == "offline":
        handler = ""
    client = ctx.caller.client_id or ""
    for b in portal.bindings:
        if (b.event, b.handler, b.auth_type, b.event_type, b.client_id) == (
            event,
            handler,
            auth_type,
            event_type,
            client,
        ):
            raise RestError("ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!", 400)
    connector = str(params.get("auth_connector") or "")
    portal.bindings.append(
        Binding(portal.next_binding_id, event, handler, auth_type, event_type, client, connector)
    )
    portal.next_binding_id += 1
    return True


@method("event.unbind", scope="basic", app_only=True)
def event_unbind(ctx: CallContext, params: dict[str, Any]) -> dict[str, int]:
    portal: Portal = ctx.portal
    event = str(params.get("event") or "").upper()
    handler = params.get("handler")
    auth_type = params.get("auth_type")
    event_type = str(params.get("event_type") or "online").lower()
    keep: list[Binding] = []
    count = 0
    for b in portal.bindings:
        hit = (
            b.client_id == (ctx.caller.client_id or "")
            and b.event == event
            and b.event_type == event_type
            and (handler in (None, "") or b.handler == handler)
            and (auth_type in (None, "") or b.auth_type == _auth_type(auth_type))
        )
        if hit:
            count += 1
        else:
            keep.append(b)
    portal.bindings = keep
    return {"count": count}


@method("event.get", scope="basic", app_only=True)
def event_get(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    portal: Portal = ctx.portal
    return [
        {
            "event": b.event,
            "handler": b.handler,
            "auth_type": str(b.auth_type),
            "offline": 1 if b.event_type == "offline" else 0,
        }
        for b in portal.bindings
        if b.client_id == (ctx.caller.client_id or "")
    ]


@method("events", scope="basic", app_only=True)
def events(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """§6.1: ``SCOPE`` (one scope's events) or ``FULL`` (all); default: the app's scopes."""
    p = {str(k).upper(): v for k, v in params.items()}
    if p.get("SCOPE"):
        return list(EVENTS_BY_SCOPE.get(str(p["SCOPE"]), ()))
    if str(p.get("FULL") or "").lower() in ("1", "true", "y"):
        return known_events(None)
    return known_events(ctx.caller.scopes)


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _require_admin(ctx: CallContext) -> None:
    if not ctx.caller.is_admin:
        raise RestError("ACCESS_DENIED", "Access denied!", 403)  # §6.4: offline events need an admin


@method("event.offline.get", scope="basic", app_only=True)
def event_offline_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    portal: Portal = ctx.portal
    _require_admin(ctx)
    clear = str(params.get("clear", 1)) not in ("0", "False", "false", "N")
    want_error = str(params.get("error", 0)) in ("1", "true", "True", "Y")
    try:
        limit = max(1, min(int(params.get("limit") or 50), 1000))
    except (TypeError, ValueError):
        limit = 50
    rows = [r for r in portal.offline_events if r["_process_id"] is None and bool(r["_error"]) == want_error]
    filt = params.get("filter") if isinstance(params.get("filter"), dict) else {}
    for raw_key, value in (filt or {}).items():
        op, field = split_operator(str(raw_key).upper())
        rows = [r for r in rows if matches(op, r.get(field), value)]
    order = params.get("order") if isinstance(params.get("order"), dict) else {"TIMESTAMP_X": "ASC"}
    for field, direction in reversed(list((order or {}).items())):
        key = str(field).upper()
        rows.sort(key=lambda r, k=key: int(r[k]) if k in ("ID", "MESSAGE_ID") else str(r.get(k)))  # type: ignore[misc]
        if str(direction).upper() == "DESC":
            rows.reverse()
    picked = rows[:limit]
    if clear:
        ids = {r["ID"] for r in picked}
        portal.offline_events = [r for r in portal.offline_events if r["ID"] not in ids]
        return {"process_id": None, "events": [_public(r) for r in picked]}
    process_id = secrets.token_hex(16)
    for record in picked:
        record["_process_id"] = process_id
    return {"process_id": process_id, "events": [_public(r) for r in picked]}


def _message_ids(value: Any) -> set[str] | None:
    if value in (None, "", []):
        return None
    items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
    return {str(v) for v in items}


@method("event.offline.clear", scope="basic", app_only=True)
def event_offline_clear(ctx: CallContext, params: dict[str, Any]) -> bool:
    portal: Portal = ctx.portal
    _require_admin(ctx)
    process_id = str(params.get("process_id") or "")
    if not process_id:
        raise RestError(
            "ERROR_ARGUMENT", "Argument 'process_id' is null or empty", 400, argument="process_id"
        )
    only = _message_ids(params.get("message_id"))
    portal.offline_events = [
        r
        for r in portal.offline_events
        if not (r["_process_id"] == process_id and (only is None or r["MESSAGE_ID"] in only))
    ]
    return True


@method("event.offline.error", scope="basic", app_only=True)
def event_offline_error(ctx: CallContext, params: dict[str, Any]) -> bool:
    portal: Portal = ctx.portal
    _require_admin(ctx)
    process_id = str(params.get("process_id") or "")
    only = _message_ids(params.get("message_id"))
    if not process_id or only is None:
        raise RestError(
            "ERROR_ARGUMENT", "Argument 'process_id' is null or empty", 400, argument="process_id"
        )
    for record in portal.offline_events:
        if record["_process_id"] == process_id and record["MESSAGE_ID"] in only:
            record["_error"] = True
            record["_process_id"] = None
    return True
