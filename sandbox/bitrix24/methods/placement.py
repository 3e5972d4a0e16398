"""``placement.bind/get/unbind/list``: widget handlers registered by the application (app context only).

Owns the placement registrations and their documented quirks: webhooks get 403 ``WRONG_AUTH_TYPE``,
several errors come back with HTTP 200, unbind counts twice per removed handler.
Sources: ../shared/reference/bitrix24-rest.md §9.1, §9.2, §11.21; api-reference/widgets/placement-*.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.procs_common import as_int, is_admin, lock, slot, upper, yes

# placement-bind.md: a webhook is refused with 403 WRONG_AUTH_TYPE.
WRONG_AUTH = (
    "WRONG_AUTH_TYPE",
    "Current authorization type is denied for this method Application context required",
)
# bitrix24-rest.md §9.2 placement codes of interest, grouped by the scope that offers them.
PLACEMENTS: dict[str, list[str]] = {
    "placement": ["LEFT_MENU", "REST_APP_URI", "PAGE_BACKGROUND_WORKER"],
    "user": ["USER_PROFILE_MENU", "USER_PROFILE_TOOLBAR"],
    "sonet_group": ["SONET_GROUP_DETAIL_TAB", "SONET_GROUP_TOOLBAR"],
    "task": ["TASK_VIEW_TAB"],
    "im": ["IM_NAVIGATION", "IM_SIDEBAR", "IM_CONTEXT_MENU", "IM_TEXTAREA"],
    "calendar": ["CALENDAR_GRIDVIEW"],
    "crm": ["CRM_DEAL_LIST_TOOLBAR", "CRM_DEAL_DETAIL_TAB", "CRM_LEAD_DETAIL_TAB", "CRM_CONTACT_DETAIL_TAB"],
}
SINGLE = {"PAGE_BACKGROUND_WORKER", "REST_APP_URI"}  # placement-bind.md: ERROR_PLACEMENT_MAX_COUNT


@dataclass
class PlacementState:
    bound: list[dict[str, Any]] = field(default_factory=list)


def _state(portal: Any) -> PlacementState:
    return slot(portal, "placement", PlacementState)


def bound_handlers(portal: Any) -> list[dict[str, Any]]:
    """Every handler an application bound (the placement knob opens them)."""
    return _state(portal).bound


def _arg200(name: str) -> RestError:
    # placement-bind.md / §9.2: ERROR_ARGUMENT comes back with HTTP 200 and names the argument.
    return RestError("ERROR_ARGUMENT", f"Argument '{name}' is null or empty", 200, argument=name)


def _admin(ctx: CallContext) -> None:
    if not is_admin(ctx):
        raise RestError("ACCESS_DENIED", "Access denied!", 403)


@method("placement.bind", scope="placement", app_only=True, webhook_error=WRONG_AUTH)
def bind(ctx: CallContext, params: dict[str, Any]) -> bool:
    """placement-bind.md: PLACEMENT*, HANDLER*, TITLE, DESCRIPTION, GROUP_NAME, LANG_ALL, OPTIONS, USER_ID."""
    p = upper(params)
    with lock(ctx.portal):
        _admin(ctx)
        code = str(p.get("PLACEMENT") or "").upper()
        if not code:
            raise _arg200("PLACEMENT")
        scope = next((name for name, codes in PLACEMENTS.items() if code in codes), None)
        if scope is None or (scope != "placement" and scope not in ctx.caller.scopes):
            # widgets/crm/detail-activity.md: an unknown code, or one of a scope the app lacks.
            raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found")
        handler = str(p.get("HANDLER") or "")
        if not handler:
            raise _arg200("HANDLER")
        parsed = urlparse(handler)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
        user_id = as_int(p.get("USER_ID"), 0)
        if user_id and code != "PAGE_BACKGROUND_WORKER":
            raise RestError("ERROR_PLACEMENT_USER_MODE", "User mode is not available", 200)
        options: dict[str, Any] = p["OPTIONS"] if isinstance(p.get("OPTIONS"), dict) else {}
        if code == "PAGE_BACKGROUND_WORKER" and not options.get("errorHandlerUrl"):
            raise RestError("EMPTY_ERROR_HANDLER_URL", "Empty error handler URL", 200)
        st = _state(ctx.portal)
        app = str(ctx.caller.client_id)
        mine = [b for b in st.bound if b["app"] == app and b["placement"] == code]
        if code in SINGLE and mine:
            raise RestError("ERROR_PLACEMENT_MAX_COUNT", "Placement max count exceeded", 200)
        if any(b["handler"] == handler and b["userId"] == user_id for b in mine):
            raise RestError("ERROR_CORE", "Unable to set placement handler: Handler already binded")
        st.bound.append(
            {
                "app": app,
                "placement": code,
                "userId": user_id,
                "handler": handler,
                "options": options or [],
                "title": str(p.get("TITLE") or ""),
                "description": str(p.get("DESCRIPTION") or ""),
                "langAll": p.get("LANG_ALL") or {},
            }
        )
        return True


@method("placement.get", scope="placement", app_only=True, webhook_error=WRONG_AUTH)
def get(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """placement-get.md: the handlers this application registered."""
    with lock(ctx.portal):
        app = str(ctx.caller.client_id)
        return [
            {k: v for k, v in b.items() if k != "app"} for b in _state(ctx.portal).bound if b["app"] == app
        ]


@method("placement.unbind", scope="placement", app_only=True, webhook_error=WRONG_AUTH)
def unbind(ctx: CallContext, params: dict[str, Any]) -> dict[str, int]:
    """placement-unbind.md: PLACEMENT*, HANDLER (empty = all), USER_ID; ``count`` +1 found, +1 removed."""
    p = upper(params)
    with lock(ctx.portal):
        _admin(ctx)
        raw = p.get("PLACEMENT")
        if raw in (None, ""):
            raise RestError(
                "ERROR_ARGUMENT", "Argument 'PLACEMENT' is null or empty", 400, argument="PLACEMENT"
            )
        if not isinstance(raw, str):
            raise RestError(
                "ERROR_ARGUMENT",
                "The value of an argument 'PLACEMENT' must be of type string",
                400,
                argument="PLACEMENT",
            )
        st = _state(ctx.portal)
        app, handler = str(ctx.caller.client_id), str(p.get("HANDLER") or "")
        user_id = as_int(p.get("USER_ID"), -1) if p.get("USER_ID") not in (None, "") else None
        gone = [
            b
            for b in st.bound
            if b["app"] == app
            and b["placement"] == raw.upper()
            and (not handler or b["handler"] == handler)
            and (user_id is None or b["userId"] == user_id)
        ]
        st.bound = [b for b in st.bound if b not in gone]
        return {"count": 2 * len(gone)}


@method("placement.list", scope="placement", app_only=True, webhook_error=WRONG_AUTH)
def listing(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """placement-list.md: codes for SCOPE, else the app's scopes + global ones, or all with FULL."""
    p = upper(params)
    if p.get("SCOPE"):
        return list(PLACEMENTS.get(str(p["SCOPE"]), []))
    scopes = set(PLACEMENTS) if yes(p.get("FULL")) else {"placement", *ctx.caller.scopes}
    return [code for scope, codes in PLACEMENTS.items() if scope in scopes for code in codes]
