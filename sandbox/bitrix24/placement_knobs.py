"""Knob: open a bound placement as a given user, the way a Bitrix24 page loads an app's widget iframe.

``POST /_sandbox/placement/open`` with ``{"placement": "LEFT_MENU", "user_id": 7, "options": {...},
"lang": "ru", "post": true}`` finds the application's handler bound with ``placement.bind`` and POSTs
the documented body to it (api-reference/widgets/_includes/widget_data.md, bitrix24-rest.md §9.2):
query ``DOMAIN``, ``PROTOCOL`` (0 http / 1 https), ``LANG``, ``APP_SID``; form fields ``AUTH_ID``,
``AUTH_EXPIRES``, ``REFRESH_ID``, ``SERVER_ENDPOINT``, ``APPLICATION_TOKEN``, ``APPLICATION_SCOPE``,
``member_id``, ``status``, ``PLACEMENT``, ``PLACEMENT_OPTIONS`` (a JSON string). ``AUTH_ID`` is a fresh
access token of that user, so ``user.current`` with it answers that user and no one else.
With ``"post": false`` the knob only returns the URL and form (a browser test can submit them itself).
Mounted by knobs.extension_routes.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.bitrix24.delivery import FORM
from sandbox.bitrix24.methods.placement import bound_handlers


def _error(status: int, text: str) -> Response:
    return JSONResponse({"error": text}, status_code=status)


def placement_call(
    portal: Any, bound: dict[str, Any], user_id: int, options: dict[str, Any], lang: str
) -> tuple[str, dict[str, str]]:
    """The handler URL with its query, and the form body, for ``user_id`` opening ``bound``."""
    access, refresh = portal.issue_tokens(user_id)
    endpoint = portal.public_url.rstrip("/")
    query = {
        "DOMAIN": portal.oauth_domain,  # the portal, as install's auth[domain] and client_endpoint name it
        "PROTOCOL": "1" if portal.public_url.startswith("https://") else "0",
        "LANG": lang,
        "APP_SID": secrets.token_hex(16),
    }
    form = {
        "AUTH_ID": access,
        "AUTH_EXPIRES": str(portal.token_lifetime),
        "REFRESH_ID": refresh,
        "SERVER_ENDPOINT": f"{endpoint}/rest/",
        "APPLICATION_TOKEN": portal.app.application_token or "",
        "APPLICATION_SCOPE": ",".join(sorted(portal.app.scopes)),
        "member_id": portal.member_id,
        "status": "L",  # a local application (bitrix24-rest.md §6.2)
        "PLACEMENT": str(bound["placement"]),
        "PLACEMENT_OPTIONS": json.dumps(options, ensure_ascii=False),
    }
    handler = str(bound["handler"])
    joiner = "&" if urlsplit(handler).query else "?"
    return f"{handler}{joiner}{urlencode(query)}", form


async def k_open_placement(request: Request) -> Response:
    raw = await request.body()
    body = json.loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        return _error(400, "expected a JSON object")
    sandbox = request.app.state.sandbox
    sandbox.learn_url(request)
    portal = sandbox.portal
    code = str(body.get("placement") or "").upper()
    handler = body.get("handler")
    try:
        user_id = int(body.get("user_id") or portal.admin_id())
    except (TypeError, ValueError):
        return _error(400, "user_id must be a number")
    user = portal.user(user_id)
    if user is None or not user.active:
        return _error(404, f"no active user {user_id}")
    if not portal.app.installed:
        return _error(409, "the application is not installed")
    bound = [
        b
        for b in bound_handlers(portal)
        if b["placement"] == code
        and b["app"] == portal.app.client_id
        and (not handler or b["handler"] == handler)
    ]
    if not bound:
        return _error(404, f"no handler bound to {code or 'the placement'}")
    given = body.get("options")
    options: dict[str, Any] = given if isinstance(given, dict) else {}
    url, form = placement_call(portal, bound[0], user_id, options, str(body.get("lang") or "en"))
    if body.get("post") is False:
        return JSONResponse({"url": url, "form": form})
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(url, data=form, headers={"Content-Type": FORM})
    except httpx.HTTPError as exc:
        return JSONResponse({"url": url, "form": form, "status": None, "error": type(exc).__name__})
    return JSONResponse(
        {
            "url": url,
            "form": form,
            "status": answer.status_code,
            "content_type": answer.headers.get("content-type", ""),
            "body": answer.text,
        }
    )


def placement_knob_routes() -> list[Route]:
    return [Route("/_sandbox/placement/open", k_open_placement, methods=["POST"])]
