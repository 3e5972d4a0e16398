"""Basic methods: ``app.info``, ``profile``, ``scope``, ``methods``, ``method.get``, ``server.time``.

Sources: api-reference/common/system/*.md (app-info.md: ACCESS_DENIED "Access denied! Application context
required" with HTTP 400 outside an app; scope.md: ``full``, basic not listed; methods.md: ``scope``/``full``;
server-time.md: ISO-8601 string). ``batch`` is run by batch.py; it is registered here only so that
``methods`` lists it and scope checks know it.
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.auth import ALL_SCOPES, SCOPE_ALIASES
from sandbox.bitrix24.core import METHODS, CallContext, RestError, method
from sandbox.bitrix24.state import Portal


def _flag(value: Any) -> bool:
    """JSON true / 1 / "Y"; in form data any non-empty string but "0" is true (scope.md, methods.md)."""
    if isinstance(value, bool):
        return value
    return value not in (None, "", 0, "0")


@method("batch", scope="basic")
def batch_placeholder(ctx: CallContext, params: dict[str, Any]) -> None:
    raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)


@method("app.info", scope="basic")
def app_info(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    portal: Portal = ctx.portal
    if ctx.caller.via != "app":
        raise RestError("ACCESS_DENIED", "Access denied! Application context required", 400)
    enterprise = portal.plan == "enterprise"
    return {
        "ID": 1,
        "CODE": portal.app.client_id,
        "VERSION": portal.app.version,
        "STATUS": "L",
        "INSTALLED": portal.app.installed,
        "PAYMENT_EXPIRED": "N",
        "DAYS": None,
        "LANGUAGE_ID": "en",
        "LICENSE": "en_ent250" if enterprise else "en_std",
        "LICENSE_TYPE": "ent250" if enterprise else "std",
        "LICENSE_FAMILY": "ent" if enterprise else "std",
    }


@method("profile", scope="basic")
def profile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = ctx.portal.user(ctx.caller.user_id)
    fields = user.fields if user is not None else {}
    row: dict[str, Any] = {
        "ID": str(ctx.caller.user_id),
        "ADMIN": ctx.caller.is_admin,
        "NAME": fields.get("NAME", ""),
        "LAST_NAME": fields.get("LAST_NAME", ""),
        "PERSONAL_GENDER": fields.get("PERSONAL_GENDER", ""),
        "TIME_ZONE": "",
        "TIME_ZONE_OFFSET": 0,
    }
    return row


@method("scope", scope="basic")
def scope(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """The caller's scopes (``full``: every scope of the portal); ``basic`` is never listed."""
    scopes = ALL_SCOPES if _flag(params.get("full")) else ctx.caller.scopes
    return sorted(s for s in scopes if s != "basic")


def _scopes_of(spec_scope: str) -> set[str]:
    return {SCOPE_ALIASES.get(s, s) for s in spec_scope.split("|") if s}


@method("methods", scope="basic")
def methods(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    if "scope" in params:
        wanted = str(params.get("scope") or "basic")
        return sorted(s.name for s in METHODS.values() if wanted in _scopes_of(s.scope))
    full = _flag(params.get("full"))
    allowed = ctx.caller.scopes | {"basic"}
    return sorted(s.name for s in METHODS.values() if full or _scopes_of(s.scope) & allowed)


@method("method.get", scope="basic")
def method_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, bool]:
    name = str(params.get("name") or "").lower()
    spec = METHODS.get(name)
    if spec is None:
        return {"isExisting": False, "isAvailable": False}
    available = bool(_scopes_of(spec.scope) & (ctx.caller.scopes | {"basic"}))
    if spec.app_only and ctx.caller.via != "app":
        available = False
    return {"isExisting": True, "isAvailable": available}


@method("server.time", scope="basic")
def server_time(ctx: CallContext, params: dict[str, Any]) -> str:
    return str(ctx.portal.clock.iso())
