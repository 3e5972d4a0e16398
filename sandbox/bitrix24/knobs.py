"""Test knobs under ``/_sandbox/``: inspect state, move the clock, set faults and limits, install the app,
accept invitations, read the request log, reset. Never reachable through ``/rest/``.

Owns the knob routes. Everything a knob does to the portal goes through state.py/eventbus.py helpers.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.bitrix24.auth import normalise_scopes
from sandbox.bitrix24.eventbus import emit
from sandbox.bitrix24.faults import profile_from_json
from sandbox.bitrix24.persist import save_state
from sandbox.bitrix24.presenters import user_row
from sandbox.bitrix24.state import Webhook

if TYPE_CHECKING:
    from sandbox.bitrix24.app import Sandbox


def _sb(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    sandbox.learn_url(request)
    return sandbox


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw.strip() else {}
    return data if isinstance(data, dict) else {}


async def k_state(request: Request) -> Response:
    portal = _sb(request).portal
    return JSONResponse(
        {
            "domain": portal.domain,
            "member_id": portal.member_id,
            "now": portal.clock.now(),
            "users": len(portal.users),
            "departments": len(portal.departments),
            "groups": len(portal.groups),
            "invitations": len(portal.invitations),
            "bindings": len(portal.bindings),
            "app_installed": portal.app.installed,
        }
    )


def _user_view(sandbox: Sandbox, uid: int) -> dict[str, Any]:
    user = sandbox.portal.users[uid]
    return {
        "id": uid,
        "fields": user_row(sandbox.portal, user, None),
        "is_admin": user.is_admin,
        "registered": user.registered,
        "groups": sorted(sandbox.portal.groups_of(uid)),
    }


async def k_users(request: Request) -> Response:
    sandbox = _sb(request)
    portal = sandbox.portal
    q = request.query_params
    if "email" in q:
        ids = [i for i in [portal.by_email.get(q["email"].lower())] if i]
    elif "xml_id" in q:
        ids = sorted(portal.by_xml_id.get(q["xml_id"], ()))
    elif "id" in q:
        ids = [int(q["id"])] if int(q["id"]) in portal.users else []
    else:
        ids = list(portal.users)
    limit = int(q.get("limit", 1000))
    return JSONResponse({"count": len(ids), "users": [_user_view(sandbox, i) for i in ids[:limit]]})


async def k_add_user(request: Request) -> Response:
    """Seed a user directly (e.g. a non-admin employee to test permissions)."""
    portal = _sb(request).portal
    body = await _json(request)
    user = portal.add_user(dict(body.get("fields", {})), registered=bool(body.get("registered", True)))
    user.is_admin = bool(body.get("is_admin", False))
    return JSONResponse({"id": user.id})


async def k_accept(request: Request) -> Response:
    """The invitee accepts the invitation, completes registration and logs in.

    Sets LAST_LOGIN; pending extranet join requests become memberships (the group turns extranet, §2.6);
    fires ONUSERADD — which does not fire on invitation, only here (bitrix24-rest.md §2.1, on-user-add.md).
    """
    sandbox = _sb(request)
    portal = sandbox.portal
    user = portal.user(request.path_params["user_id"])
    if user is None:
        return JSONResponse({"error": "no such user"}, status_code=404)
    first = not user.registered
    user.registered = True
    user.fields["LAST_LOGIN"] = portal.clock.iso()
    for group in portal.groups.values():
        if group.requests.pop(user.id, None) is not None and user.id not in group.members:
            group.members[user.id] = "K"
            if user.extranet:
                group.extranet = True
    reached = 0
    if first:
        # on-user-add.md: data holds the user's fields directly (ID, ACTIVE Y/N, EMAIL, DATE_REGISTER, …);
        # UF_DEPARTMENT may be absent for extranet users; auth carries refresh_token too.
        skip = ("USER_TYPE", "IS_ONLINE", "LAST_LOGIN")
        data = {k: v for k, v in user_row(portal, user, None).items() if k not in skip}
        data["ID"] = user.id
        data["ACTIVE"] = "Y" if user.active else "N"
        reached = emit(portal, "ONUSERADD", data, acting_user=user.id, object_id=user.id, with_refresh=True)
    results = await portal.outbox.flush()
    return JSONResponse(
        {
            "registered": first,
            "handlers": reached,
            "deliveries": [{"status": r.status, "error": r.error} for r in results],
        }
    )


async def k_login(request: Request) -> Response:
    portal = _sb(request).portal
    user = portal.user(request.path_params["user_id"])
    if user is None:
        return JSONResponse({"error": "no such user"}, status_code=404)
    user.fields["LAST_LOGIN"] = portal.clock.iso()
    return JSONResponse({"LAST_LOGIN": user.fields["LAST_LOGIN"]})


async def k_groups(request: Request) -> Response:
    portal = _sb(request).portal
    rows = [
        {
            "id": g.id,
            "fields": g.fields,
            "members": {str(u): r for u, r in g.members.items()},
            "requests": {str(u): i for u, i in g.requests.items()},
            "is_extranet": g.extranet,
        }
        for g in portal.groups.values()
    ]
    return JSONResponse({"groups": rows})


async def k_departments(request: Request) -> Response:
    return JSONResponse({"departments": list(_sb(request).portal.departments.values())})


async def k_invitations(request: Request) -> Response:
    portal = _sb(request).portal
    rows = [
        {
            "user_id": i.user_id,
            "email": i.email,
            "sent_at": i.sent_at,
            "invited_by": i.invited_by,
            "message": i.message,
            "group_ids": list(i.group_ids),
        }
        for i in portal.invitations
    ]
    return JSONResponse({"invitations": rows})


async def k_deliveries(request: Request) -> Response:
    portal = _sb(request).portal
    await portal.outbox.flush()
    return JSONResponse({"deliveries": portal.deliveries})


async def k_flush(request: Request) -> Response:
    results = await _sb(request).portal.outbox.flush()
    return JSONResponse({"sent": len(results)})


async def k_bindings(request: Request) -> Response:
    portal = _sb(request).portal
    rows = [
        {"id": b.id, "event": b.event, "handler": b.handler, "event_type": b.event_type}
        for b in portal.bindings
    ]
    return JSONResponse({"bindings": rows, "offline": portal.offline_events})


async def k_log(request: Request) -> Response:
    """The request log as JSON lines: method, status, error code, duration — no parameters, no secrets."""
    lines = "".join(json.dumps(e) + "\n" for e in _sb(request).portal.request_log)
    return Response(lines, media_type="application/x-ndjson")


async def k_faults(request: Request) -> Response:
    sandbox = _sb(request)
    if request.method == "POST":
        try:
            sandbox.faults.set(profile_from_json(await _json(request)))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(sandbox.faults.profile.as_dict())


async def k_clock(request: Request) -> Response:
    """``{"set": t}`` (frozen at t), ``{"set": t, "freeze": false}``, ``{"advance": s}``, ``{"run": 1}``."""
    clock = _sb(request).clock
    if request.method == "POST":
        body = await _json(request)
        if "set" in body:
            clock.set(float(body["set"]), freeze=bool(body.get("freeze", True)))
        if "advance" in body:
            clock.advance(float(body["advance"]))
        if body.get("freeze") is True and "set" not in body:
            clock.set(clock.now())
        if body.get("run"):
            clock.run()
    return JSONResponse({"now": clock.now(), "frozen": clock.frozen})


async def k_limits(request: Request) -> Response:
    """Change the bucket and the operating budget for this test: rate, burst, op_budget, op_costs, …"""
    sandbox = _sb(request)
    if request.method == "POST":
        body = await _json(request)
        if "rate" in body:
            sandbox.bucket.rate = float(body["rate"])
        if "burst" in body:
            sandbox.bucket.burst = int(body["burst"])
        if "op_budget" in body:
            sandbox.ledger.limit = float(body["op_budget"])
        if "op_costs" in body:
            sandbox.ledger.costs = {k.lower(): float(v) for k, v in body["op_costs"].items()}
        if "op_default_cost" in body:
            value = body["op_default_cost"]
            sandbox.ledger.default_cost = None if value is None else float(value)
        if body.get("drain"):
            sandbox.bucket.reset()
            sandbox.ledger.reset()
    return JSONResponse(
        {
            "rate": sandbox.bucket.rate,
            "burst": sandbox.bucket.burst,
            "level": sandbox.bucket.level,
            "op_budget": sandbox.ledger.limit,
            "op_costs": sandbox.ledger.costs,
            "op_default_cost": sandbox.ledger.default_cost,
        }
    )


async def k_webhooks(request: Request) -> Response:
    sandbox = _sb(request)
    portal = sandbox.portal
    if request.method == "POST":
        body = await _json(request)
        code = str(body.get("code") or secrets.token_hex(8))
        uid = int(body.get("user_id", 1))
        scopes = normalise_scopes(body.get("scopes") or [])
        portal.webhooks[(uid, code)] = Webhook(uid, code, scopes, body.get("expires_at"))
        return JSONResponse({"url": f"{portal.public_url}/rest/{uid}/{code}/"})
    return JSONResponse({"urls": sandbox.webhook_urls()})


async def k_system_error(request: Request) -> Response:
    """``{"code": "OVERLOAD_LIMIT", "method": "user.add", "count": 1}``; ``{"code": null}`` clears."""
    forced = _sb(request).dispatcher.forced
    if request.method == "POST":
        body = await _json(request)
        try:
            forced.set(body.get("code"), method=body.get("method"), count=body.get("count"))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"forced": forced.current()})


async def k_reset(request: Request) -> Response:
    sandbox = _sb(request)
    sandbox.reset()
    sandbox.dispatcher.forced.set(None)
    return JSONResponse({"ok": True})


async def k_save(request: Request) -> Response:
    sandbox = _sb(request)
    if sandbox.config.state_file is None:
        return JSONResponse({"error": "no state file configured"}, status_code=400)
    save_state(sandbox.portal, sandbox.config.state_file)
    return JSONResponse({"saved": str(sandbox.config.state_file)})


def extension_routes() -> list[Route]:
    """Knob routes of other method families: any ``sandbox/bitrix24/*_knobs.py`` module exposing a
    ``*knob_routes()`` function (e.g. ``procs_knobs.procs_knob_routes``) is mounted under ``/_sandbox/``."""
    import importlib
    import pkgutil

    import sandbox.bitrix24 as package

    routes: list[Route] = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.endswith("_knobs"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name in dir(module):
            if name.endswith("knob_routes") and callable(getattr(module, name)):
                routes.extend(r for r in getattr(module, name)() if r.path.startswith("/_sandbox/"))
    return routes


def knob_routes() -> list[Route]:
    get, post, both = ["GET"], ["POST"], ["GET", "POST"]
    return [
        Route("/_sandbox/state", k_state, methods=get),
        Route("/_sandbox/users", k_users, methods=get),
        Route("/_sandbox/users", k_add_user, methods=post),
        Route("/_sandbox/users/{user_id:int}/accept", k_accept, methods=post),
        Route("/_sandbox/users/{user_id:int}/login", k_login, methods=post),
        Route("/_sandbox/groups", k_groups, methods=get),
        Route("/_sandbox/departments", k_departments, methods=get),
        Route("/_sandbox/invitations", k_invitations, methods=get),
        Route("/_sandbox/deliveries", k_deliveries, methods=get),
        Route("/_sandbox/events/flush", k_flush, methods=post),
        Route("/_sandbox/bindings", k_bindings, methods=get),
        Route("/_sandbox/log", k_log, methods=get),
        Route("/_sandbox/faults", k_faults, methods=both),
        Route("/_sandbox/clock", k_clock, methods=both),
        Route("/_sandbox/limits", k_limits, methods=both),
        Route("/_sandbox/webhooks", k_webhooks, methods=both),
        Route("/_sandbox/reset", k_reset, methods=post),
        Route("/_sandbox/system-error", k_system_error, methods=both),
        Route("/_sandbox/save", k_save, methods=post),
        *extension_routes(),
    ]
