"""Bitrix24 → bridge: the application's install handler and the event handler.

Both receive form posts in PHP bracket notation (bitrix24-rest.md §6.2), parsed into strict models and
checked by ``PortalAuth`` (webhooks/portal.py). An event is stored in the inbox under the digest of
what identifies it (a redelivery is answered, not stored again) through the group-commit writer
(webhooks/inbox_writer.py: answered only once its row is committed, one commit for every event that
arrived meanwhile), and handed to its handler after the response (webhooks/handlers.py; the scheduler's
``inbox`` job retries).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel

from store import inbox
from webhooks.bodies import EventBody, InstallBody, form_schema
from webhooks.deps import StoreDep
from webhooks.errors import Refusal, responses
from webhooks.handlers import HANDLERS, SOURCE, dispatch
from webhooks.portal import PortalAuth, PortalInstall

router = APIRouter(prefix="/bitrix24", tags=["bitrix24"])

HANDLED_EVENTS = frozenset(HANDLERS)


class Installed(BaseModel):
    installed: Literal[True] = True


class Received(BaseModel):
    received: Literal[True] = True
    duplicate: bool
    """True when this event was received before (a redelivery): it is not processed again."""


def _form_body(model: type[EventBody], description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/x-www-form-urlencoded": {"schema": form_schema(model)}},
        }
    }


@router.post(
    "/install",
    response_model=Installed,
    responses=responses(400, 403, 413, 503),
    openapi_extra=_form_body(InstallBody, "ONAPPINSTALL as Bitrix24 posts it (bitrix24-rest.md §6.2)"),
)
async def install(call: PortalInstall) -> Installed:
    """ONAPPINSTALL: verified with the configured portal, then its tokens are kept."""
    return Installed()


@router.post(
    "/events",
    response_model=Received | Installed,
    responses=responses(400, 401, 403, 413, 422, 503),
    openapi_extra=_form_body(EventBody, "An application event as Bitrix24 posts it (bitrix24-rest.md §6.2)"),
)
async def event(
    call: PortalAuth, store: StoreDep, background: BackgroundTasks, request: Request
) -> Received | Installed:
    if call.installed:
        return Installed()
    body = call.body
    if body.event not in HANDLED_EVENTS:
        raise Refusal(422, "event_not_handled", f"event {body.event} is not handled by the bridge")
    data = body.data.model_dump(mode="json", exclude_none=True)
    identity = {"event": body.event, "ts": body.ts, "member_id": call.member_id, "data": data}
    key = inbox.message_key(identity, distinct=body.ts is None and body.data.subject is None)
    payload = {**identity, "subject": body.data.subject, "event_handler_id": body.event_handler_id}
    fresh = await request.app.state.inbox_writer.receive(SOURCE, key, body.event, payload)
    if fresh:
        background.add_task(dispatch, store.sessions)
    return Received(duplicate=not fresh)
