"""Bitrix24 → bridge: the application's install handler and the event handler.

Both receive form posts in PHP bracket notation (bitrix24-rest.md §6.2). Every event is checked
against the ``application_token`` stored at install (there is no HMAC), stored in the inbox under its
key (a redelivery is answered, not re-processed), and answered at once.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from connectors.bitrix24.auth import StoreVault, TokenPair
from store import inbox
from webhooks.deps import StoreDep
from webhooks.forms import parse_php_form

router = APIRouter(prefix="/bitrix24", tags=["bitrix24"])

HANDLED_EVENTS = {"ONUSERADD", "ONAPPUNINSTALL", "ONOFFLINEEVENT"}


async def _form(request: Request) -> dict[str, Any]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_php_form(body)


def _section(form: dict[str, Any], name: str) -> dict[str, Any]:
    value = form.get(name)
    return value if isinstance(value, dict) else {}


@router.post("/install")
async def install(request: Request, store: StoreDep) -> dict[str, Any]:
    """ONAPPINSTALL: keep the tokens and the application_token that later events must carry."""
    form = await _form(request)
    auth = _section(form, "auth")
    if (
        form.get("event") != "ONAPPINSTALL"
        or not auth.get("access_token")
        or not auth.get("application_token")
    ):
        raise HTTPException(
            400, "expected an ONAPPINSTALL event with auth[access_token] and auth[application_token]"
        )
    vault = StoreVault(store.sessions, str(auth.get("domain", "")))
    current = vault.load()
    if current is not None and current.member_id and current.member_id != auth.get("member_id"):
        raise HTTPException(403, "the bridge is installed on another portal")
    expires_in = int(auth.get("expires_in") or 3600)
    vault.save(
        TokenPair(
            access_token=str(auth["access_token"]),
            refresh_token=str(auth.get("refresh_token", "")),
            member_id=str(auth.get("member_id", "")),
            domain=str(auth.get("domain", "")),
            expires_at=time.time() + expires_in,
            scope=str(auth.get("scope", "")) or None,
            application_token=str(auth["application_token"]),
        )
    )
    return {"installed": True}


@router.post("/events")
async def event(request: Request, store: StoreDep) -> dict[str, Any]:
    form = await _form(request)
    auth = _section(form, "auth")
    stored = StoreVault(store.sessions).load()
    expected = stored.application_token if stored else None
    given = str(auth.get("application_token", ""))
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "unknown application_token")
    name = str(form.get("event", "")).upper()
    if name not in HANDLED_EVENTS:
        raise HTTPException(422, f"event {name or '(none)'} is not handled by the bridge")
    data = _section(form, "data")
    subject = data.get("ID") or (data.get("FIELDS") or {}).get("ID") or ""
    key = f"{name}:{subject}:{form.get('ts', '')}"
    fresh = inbox.receive(
        store.sessions, "bitrix24", key, name, {"event": name, "id": subject, "ts": form.get("ts")}
    )
    if fresh:
        inbox.mark_processed(store.sessions, "bitrix24", key)
    return {"received": True, "duplicate": not fresh}
