"""The read operations: GetInfo, GetSnapshotPage (keyset paging by ref) and GetChanges (the feed).

Owns the limits and the business errors of reading (INVALID_PAGE_SIZE, UNKNOWN_ENTITY,
ACK_OUT_OF_RANGE); payloads are built from the object's current state when sent (state-based
registrations), and an object deleted since its registration travels as ``deleted`` with a nil payload.
"""

from __future__ import annotations

from typing import Any

from connectors.onec.contract import CONTRACT_VERSION
from sandbox.onec import render, soap
from sandbox.onec.model import ENTITIES
from sandbox.onec.state import SandboxState

MAX_PAGE = 1000
MAX_CHANGES = 1000
DEFAULT_PAGE = 500
CONFIG_NAME = "ЗарплатаИУправлениеПерсоналом"


def get_info(state: SandboxState, _params: dict[str, Any]) -> str:
    c = state.config
    return (
        f"<m:contractVersion>{CONTRACT_VERSION}</m:contractVersion><m:configName>{CONFIG_NAME}</m:configName>"
        f"<m:configVersion>{c.config_version}</m:configVersion><m:serverTime>{render.ts(state.now())}</m:serverTime>"
        f"<m:timeZone>{c.tz}</m:timeZone><m:nodeCode>{c.node_code}</m:nodeCode>"
    )


def _page_error(entity: str, after: str | None, code: str, message: str, field: str) -> str:
    return (
        f"<m:entity>{render.esc(entity)}</m:entity>{render.nil('items')}<m:lastRef>{render.r(after)}</m:lastRef>"
        f"<m:hasMore>false</m:hasMore>{render.errors([(code, message, field)])}"
    )


def get_snapshot_page(state: SandboxState, params: dict[str, Any]) -> str:
    entity = soap.text(params.get("entity")) or ""
    try:
        after = soap.guid(params.get("afterRef"), "afterRef")
        size = soap.integer(params.get("pageSize"), "pageSize", DEFAULT_PAGE)
    except soap.BadParam as exc:
        return _page_error(
            entity if entity in ENTITIES else "Organization", None, "INVALID_VALUE", str(exc), exc.field
        )
    if entity not in ENTITIES:
        return _page_error(
            "Organization", after, "UNKNOWN_ENTITY", f"Неизвестная сущность: {entity[:40]}", "entity"
        )
    if not 1 <= size <= MAX_PAGE:
        return _page_error(
            entity, after, "INVALID_PAGE_SIZE", f"Размер страницы от 1 до {MAX_PAGE}", "pageSize"
        )
    rows, has_more = state.company.tables[entity].page_after(after or "", size)
    today = state.today()
    tag = render.ENTITY_TAG[entity]
    fn = render.RENDER[entity]
    body = "".join([f"<m:item><m:{tag}>{fn(row, today)}</m:{tag}></m:item>" for row in rows])  # type: ignore[operator]
    last = (rows[-1].ref if entity != "Request" else rows[-1].doc_ref) if rows else after
    return (
        f"<m:entity>{entity}</m:entity><m:items>{body}</m:items><m:lastRef>{render.r(last)}</m:lastRef>"
        f"<m:hasMore>{render.b(has_more)}</m:hasMore><m:errors/>"
    )


def get_changes(state: SandboxState, params: dict[str, Any]) -> str:
    try:
        ack = soap.integer(params.get("ackMessageNo"), "ackMessageNo", 0)
        limit = soap.integer(params.get("maxItems"), "maxItems", DEFAULT_PAGE)
    except soap.BadParam as exc:
        return _changes_error(state, "INVALID_VALUE", str(exc), exc.field)
    if not 1 <= limit <= MAX_CHANGES:
        return _changes_error(
            state, "INVALID_MAX_ITEMS", f"Не более {MAX_CHANGES} изменений за вызов", "maxItems"
        )
    selection = state.feed.select(ack, limit)
    if selection.error:
        msg = (
            f"Номер подтверждения {ack} больше номера последнего отправленного сообщения {state.feed.sent_no}"
        )
        return _changes_error(state, selection.error, msg, "ackMessageNo")
    today = state.today()
    tables = state.company.tables
    parts = []
    for p in selection.items:
        obj = tables[p.entity].by_ref.get(p.ref)
        if obj is None:  # deleted since registration: an object deletion
            parts.append(
                f"<m:item><m:entity>{p.entity}</m:entity><m:ref>{p.ref}</m:ref><m:deleted>true</m:deleted>"
                f'<m:payload xsi:nil="true"/></m:item>'
            )
        else:
            deleted = render.b(bool(getattr(obj, "deleted", False)))
            parts.append(
                f"<m:item><m:entity>{p.entity}</m:entity><m:ref>{p.ref}</m:ref><m:deleted>{deleted}</m:deleted>"
                f"<m:payload>{render.record(p.entity, obj, today)}</m:payload></m:item>"
            )
    return (
        f"<m:messageNo>{selection.message_no}</m:messageNo><m:items>{''.join(parts)}</m:items>"
        f"<m:hasMore>{render.b(selection.has_more)}</m:hasMore><m:errors/>"
    )


def _changes_error(state: SandboxState, code: str, message: str, field: str) -> str:
    return (
        f"<m:messageNo>{state.feed.sent_no}</m:messageNo>{render.nil('items')}<m:hasMore>false</m:hasMore>"
        f"{render.errors([(code, message, field)])}"
    )
