"""Knobs for the local application's life cycle: install (ONAPPINSTALL), uninstall (ONAPPUNINSTALL), keys.

Mounted with the other ``*_knobs.py`` modules under ``/_sandbox/app``. Sources: bitrix24-rest.md §6.1, §6.2;
api-reference/common/events/on-app-install.md, on-app-uninstall.md.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.bitrix24.eventbus import app_auth

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


async def install_app(sandbox: Sandbox, handler_url: str | None) -> dict[str, Any]:
    """Install the local app: new application_token, tokens for the admin, ONAPPINSTALL POSTed to the handler.

    bitrix24-rest.md §6.2 (ONAPPINSTALL auth carries refresh_token too), on-app-install.md (data keys).
    Reinstalling removes the app's event handlers (§6.1: "Handlers are removed when the app is reinstalled").
    """
    portal = sandbox.portal
    portal.app.installed = True
    portal.app.application_token = secrets.token_hex(16)
    portal.app.handler_url = handler_url
    portal.bindings = [b for b in portal.bindings if b.client_id != portal.app.client_id]
    admin = portal.admin_id()
    auth = app_auth(portal, admin, with_refresh=True)
    delivered: dict[str, Any] | None = None
    if handler_url:
        portal.next_binding_id += 1
        payload = {
            "event": "ONAPPINSTALL",
            "event_handler_id": portal.next_binding_id,
            "data": {
                "VERSION": str(portal.app.version),
                "ACTIVE": "Y",
                "INSTALLED": "Y",
                "LANGUAGE_ID": "en",
            },
            "ts": str(int(portal.clock.now())),
            "auth": auth,
        }
        portal.outbox.put(handler_url, payload, "ONAPPINSTALL")
        results = await portal.outbox.flush()
        delivered = {"status": results[-1].status, "error": results[-1].error} if results else None
    return {"auth": auth, "delivery": delivered}


async def k_uninstall(request: Request) -> Response:
    """Uninstall the app: ONAPPUNINSTALL (no tokens, only application_token) to its handlers, then every
    token and binding is gone (on-app-uninstall.md: "all access permissions … are removed"; §6.2).
    The doc's sample spells the event value ONAPPSUNINSTALL; the sandbox sends the bindable name."""
    portal = _sb(request).portal
    body = await _json(request)
    app_token = portal.app.application_token
    for binding in [b for b in portal.bindings if b.event == "ONAPPUNINSTALL" and b.event_type == "online"]:
        auth = app_auth(portal, None)
        auth["application_token"] = app_token
        payload = {
            "event": "ONAPPUNINSTALL",
            "event_handler_id": binding.id,
            "data": {"LANGUAGE_ID": "en", "CLEAN": 1 if body.get("clean") else 0},
            "ts": str(int(portal.clock.now())),
            "auth": auth,
        }
        portal.outbox.put(binding.handler, payload, "ONAPPUNINSTALL")
    results = await portal.outbox.flush()
    portal.app.installed = False
    portal.access_tokens.clear()
    portal.refresh_tokens.clear()
    portal.bindings = [b for b in portal.bindings if b.client_id != portal.app.client_id]
    return JSONResponse({"deliveries": [{"status": r.status, "error": r.error} for r in results]})


async def k_install(request: Request) -> Response:
    sandbox = _sb(request)
    body = await _json(request)
    return JSONResponse(await install_app(sandbox, body.get("handler_url", sandbox.portal.app.handler_url)))


async def k_app(request: Request) -> Response:
    portal = _sb(request).portal
    return JSONResponse(
        {
            "client_id": portal.app.client_id,
            "client_secret": portal.app.client_secret,
            "installed": portal.app.installed,
            "application_token": portal.app.application_token,
            "scopes": sorted(portal.app.scopes),
        }
    )


def app_knob_routes() -> list[Route]:
    return [
        Route("/_sandbox/app", k_app, methods=["GET"]),
        Route("/_sandbox/app/install", k_install, methods=["POST"]),
        Route("/_sandbox/app/uninstall", k_uninstall, methods=["POST"]),
    ]
