"""Bitrix24 → bridge: the call-out of a REST activity (bitrix24-rest.md §5.12).

A workflow step of one of the bridge's activities (processes/activities.py) POSTs a PHP-bracket form:
``workflow_id``, ``code``, ``document_id[0..2]``, ``document_type[0..2]``, ``event_token``,
``properties[…]``, ``use_subscription``, ``timeout_duration``, ``ts``, ``auth[…]`` ([S] CBPRestActivity::
execute, [SDK] b24pysdk oauth_workflow_data.py). It is parsed into a strict model (anything else is a 400
naming the field), ``auth[application_token]`` is compared in constant time with the installed one (403),
and the call-out is stored in the inbox under the digest of its ``event_token`` — unique per call-out, so
a redelivery is answered and not stored again — before the 200 goes out. The dispatcher
(``webhooks.handlers.dispatch_activities``) does the work and answers the workflow with
``bizproc.event.send``: woken in the background as soon as the row is committed (``callout_stored``), and
on the scheduler's ``processes`` job besides. Tokens are kept out of the stored payload except the event
token, which the answer needs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from processes.activities import ALL
from store import inbox
from webhooks.bodies import (
    NAME,
    TEXT,
    BodyError,
    EventAuth,
    EventBody,
    Token,
    UnixTime,
    _describe,
    form_schema,
)
from webhooks.errors import Refusal, responses
from webhooks.forms import FormError, parse_php_form
from webhooks.handlers import ACTIVITY_SOURCE, callout_stored
from webhooks.installed import InstalledApp
from webhooks.portal import _refuse, _same
from webhooks.routes import RequestOnlyRoute

router = APIRouter(prefix="/bitrix24", tags=["bitrix24"], route_class=RequestOnlyRoute)

CODES = tuple(a.code for a in ALL)
WORKFLOW_ID = r"^[A-Za-z0-9.]{1,64}$"
"""PHP ``uniqid('', true)``: ``67a2ffdb2c57a3.35276854`` (bitrix24-rest.md §5.12)."""
EVENT_TOKEN = r"^[A-Za-z0-9.]{1,64}\|[A-Za-z0-9_]{1,128}\|[A-Za-z0-9]{32}\.[0-9a-f]{16,128}$"
"""``<workflow_id>|<activity name in the template>|<32-char id>.<signature>`` (§5.12, [S] Signer)."""
DOC_PART = r"^[A-Za-z0-9_\\]{1,128}$"
"""``lists``, ``BizprocDocument`` / ``Bitrix\\Lists\\BizprocDocumentLists``, ``6999``, ``iblock_171``."""
_DIGITS = r"^[0-9]{1,10}$"


def _triple(value: Any) -> Any:
    """``document_id[0]=…&document_id[1]=…&document_id[2]=…`` → a list of three."""
    if isinstance(value, dict) and set(value) == {"0", "1", "2"}:
        return [value["0"], value["1"], value["2"]]
    if isinstance(value, dict | list):
        raise ValueError("must be three values [0], [1], [2]")
    return value


DocPart = Annotated[str, Field(pattern=DOC_PART)]
Triple = Annotated[tuple[DocPart, DocPart, DocPart], BeforeValidator(_triple)]
PropertyValue = Annotated[str, Field(max_length=4000, pattern=TEXT)]


class CalloutAuth(EventAuth):
    application_token: Token


class Callout(BaseModel):
    """What Bitrix24 POSTs to an activity's HANDLER (bitrix24-rest.md §5.12); nothing else is accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    workflow_id: Annotated[str, Field(pattern=WORKFLOW_ID)]
    code: Literal[CODES]  # type: ignore[valid-type]
    document_id: Triple
    document_type: Triple | None = None
    """Sent by current builds; older ones did not (§5.12)."""
    event_token: Annotated[str, Field(max_length=512, pattern=EVENT_TOKEN)]
    properties: dict[Annotated[str, Field(pattern="^" + NAME + "$")], PropertyValue] = {}
    use_subscription: Literal["Y", "N"]
    timeout_duration: Annotated[str, Field(pattern=_DIGITS)] = "0"
    ts: UnixTime | None = None
    auth: CalloutAuth

    def stored(self, member_id: str) -> dict[str, Any]:
        """The inbox payload: the call-out without the OAuth tokens it carried."""
        return {
            "workflow_id": self.workflow_id,
            "code": self.code,
            "document_id": list(self.document_id),
            "document_type": list(self.document_type) if self.document_type else None,
            "event_token": self.event_token,
            "properties": dict(self.properties),
            "use_subscription": self.use_subscription,
            "timeout_duration": int(self.timeout_duration),
            "ts": self.ts,
            "member_id": member_id,
            "auth_user_id": self.auth.user_id,
        }


def parse_callout(raw: bytes) -> Callout:
    try:
        form = parse_php_form(raw)
        return Callout.model_validate(form)
    except FormError as exc:
        raise BodyError(str(exc)) from None
    except ValidationError as exc:
        raise BodyError("; ".join(_describe(error) for error in exc.errors()[:5])) from None


async def check_token(callout: Callout, installed: InstalledApp) -> str:
    """The installed application_token (and member_id, when named), compared in constant time; returns
    the installed member_id. The install is read through a one-second cache (webhooks/installed.py)."""
    stored = await installed.load()
    if stored is None or not stored.application_token:
        raise _refuse(
            403, "not_installed", "no application is installed: install the bridge first", "activity"
        )
    if not _same(callout.auth.application_token, stored.application_token):
        raise _refuse(403, "unknown_application_token", "unknown application_token", "activity")
    member = callout.auth.member_id
    if member is not None and stored.member_id and not _same(member, stored.member_id):
        raise _refuse(403, "foreign_portal", "the call-out names another portal (member_id)", "activity")
    return stored.member_id


class Accepted(BaseModel):
    received: Literal[True] = True
    duplicate: bool
    """True when this call-out (its event_token) was received before: it is not run again."""


def _schema() -> dict[str, Any]:
    """The wire form for OpenAPI: each key with the pattern the model checks; ``auth[…]`` as for events."""
    event = form_schema(EventBody)
    auth = {k: v for k, v in event["properties"].items() if k.startswith("auth[")}
    auth["auth[application_token]"] = {"type": "string", "minLength": 1, "maxLength": 256,
                                       "pattern": r"^[A-Za-z0-9._~+/=-]+$"}  # fmt: skip
    part = {"type": "string", "pattern": DOC_PART}
    properties: dict[str, Any] = {
        "workflow_id": {"type": "string", "pattern": WORKFLOW_ID},
        "code": {"type": "string", "enum": list(CODES)},
        "event_token": {"type": "string", "maxLength": 512, "pattern": EVENT_TOKEN},
        "use_subscription": {"type": "string", "enum": ["Y", "N"]},
        "timeout_duration": {"type": "string", "pattern": _DIGITS},
        "ts": {"type": "string", "pattern": r"^[0-9]{1,11}$"},
        **{f"{name}[{i}]": part for name in ("document_id", "document_type") for i in range(3)},
        **auth,
    }
    extra_auth = {k: v for k, v in event["patternProperties"].items() if k.startswith("^auth")}
    return {
        "type": "object",
        "properties": properties,
        "required": [
            "workflow_id",
            "code",
            "event_token",
            "use_subscription",
            "auth[application_token]",
            "document_id[0]",
            "document_id[1]",
            "document_id[2]",
        ],
        "dependentRequired": {
            f"document_type[{i}]": [f"document_type[{j}]" for j in range(3) if j != i] for i in range(3)
        },
        "patternProperties": {
            rf"^properties\[{NAME}\]$": {"type": "string", "maxLength": 4000, "pattern": TEXT},
            **extra_auth,
        },
        "additionalProperties": False,
    }


@router.post(
    "/activity",
    response_model=Accepted,
    responses=responses(400, 403, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A REST activity's call-out as Bitrix24 posts it (bitrix24-rest.md §5.12)",
            "content": {"application/x-www-form-urlencoded": {"schema": _schema()}},
        }
    },
)
async def activity(request: Request) -> Accepted:
    """Store the call-out (durably) and answer; the dispatcher runs it and answers the workflow."""
    try:
        callout = parse_callout(await request.body())
    except BodyError as exc:
        raise _refuse(400, "bad_body", str(exc), "activity") from None
    member_id = await check_token(callout, request.app.state.installed_app)
    key = inbox.message_key({"event_token": callout.event_token})
    # Group commit (webhooks/inbox_writer.py): answered only once its row is committed.
    writer = request.app.state.inbox_writer
    fresh = await writer.receive(ACTIVITY_SOURCE, key, callout.code, callout.stored(member_id))
    if fresh:  # committed: the dispatcher runs it now, in the background (webhooks/handlers.py)
        callout_stored(request.app.state.store.sessions)
    return Accepted(duplicate=not fresh)


__all__ = ["Callout", "Refusal", "parse_callout", "router"]
