"""Test plumbing for the process families: app-token calls, more users, and a loopback "bridge".

The loopback bridge is a tiny Starlette app served on 127.0.0.1 that records every POST it receives
(decoded from PHP bracket notation) and, for activity call-outs, answers with ``bizproc.event.send``
through the ``auth[client_endpoint]`` and ``auth[access_token]`` it was given — as the real bridge does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.params import parse_query
from sandbox.bitrix24.testing import Knobs, Rest, RunningSandbox
from sandbox.server import serve_in_thread

ALL_SCOPES = ["user", "lists", "bizproc", "im", "disk", "timeman", "calendar", "placement", "department"]


@dataclass
class App:
    """Calls ``/rest/<method>.json`` with the installed application's access token."""

    base: str
    token: str
    http: httpx.Client

    def __call__(self, method: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(f"{self.base}/rest/{method}.json", json={**(body or {}), "auth": self.token})

    def ok(self, method: str, body: dict[str, Any] | None = None) -> Any:
        response = self(method, body)
        assert response.status_code == 200, response.text
        return response.json()["result"]


@dataclass
class Hook:
    """Calls an incoming webhook of some user."""

    url: str
    http: httpx.Client

    def __call__(self, method: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(f"{self.url}{method}.json", json=body or {})

    def ok(self, method: str, body: dict[str, Any] | None = None) -> Any:
        response = self(method, body)
        assert response.status_code == 200, response.text
        return response.json()["result"]


def install_app(b24: RunningSandbox, http: httpx.Client, handler_url: str) -> App:
    data = b24.knobs.install(handler_url)
    return App(b24.base_url, data["auth"]["access_token"], http)


def add_user(knobs: Knobs, http: httpx.Client, name: str, *, is_admin: bool = False) -> tuple[int, Hook]:
    """A new employee with a webhook of their own (every scope this area needs)."""
    uid = knobs.add_user(
        {"NAME": name, "LAST_NAME": "Test", "EMAIL": f"{name.lower()}@example.com", "UF_DEPARTMENT": [1]},
        is_admin=is_admin,
    )
    return uid, Hook(knobs.webhook(user_id=uid, scopes=ALL_SCOPES), http)


def flush(knobs: Knobs) -> Any:
    """Deliver everything the portal queued (activity call-outs, events) and wait for it."""
    return knobs._post("/_sandbox/events/flush")


@dataclass
class Bridge:
    """What the loopback bridge received; ``answer`` decides the RETURN_VALUES (None = do not answer)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda _: {}
    replies: list[httpx.Response] = field(default_factory=list)


@contextmanager
def loopback_bridge() -> Iterator[Bridge]:
    bridge = Bridge()

    async def receive(request: Request) -> JSONResponse:
        data = parse_query((await request.body()).decode())
        data["_path"] = request.url.path
        data["_content_type"] = request.headers.get("content-type", "")
        bridge.received.append(data)
        if request.url.path == "/activity":
            values = bridge.answer(data)
            if values is not None:
                auth = data["auth"]
                async with httpx.AsyncClient(timeout=10) as client:
                    reply = await client.post(
                        f"{auth['client_endpoint']}bizproc.event.send.json",
                        json={
                            "auth": auth["access_token"],
                            "EVENT_TOKEN": data["event_token"],
                            "RETURN_VALUES": values,
                            "LOG_MESSAGE": "answered by the test bridge",
                        },
                    )
                bridge.replies.append(reply)
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    with serve_in_thread(app) as url:
        bridge.url = url
        yield bridge


# -- a leave-request list, its activity and templates (shared by the bizproc tests) ----------------
def leave_list(rest: Rest) -> tuple[int, dict[str, str]]:
    iblock = rest.ok(
        "lists.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_CODE": "leave",
            "FIELDS": {"NAME": "Leave request"},
            "RIGHTS": {"U1": "X", "*": "E"},
        },
    )
    fields = {}
    for code, ftype in (("START", "S:Date"), ("STATUS", "S"), ("EMPLOYEE", "S:employee")):
        fields[code] = rest.ok(
            "lists.field.add",
            {
                "IBLOCK_TYPE_ID": "bitrix_processes",
                "IBLOCK_ID": iblock,
                "FIELDS": {"NAME": code.title(), "TYPE": ftype, "CODE": code},
            },
        )
    return iblock, fields


def register_activity(app: App, bridge: Bridge, **extra: Any) -> None:
    app.ok(
        "bizproc.activity.add",
        {
            "CODE": "check_balance",
            "HANDLER": f"{bridge.url}/activity",
            "AUTH_USER_ID": 1,
            "USE_SUBSCRIPTION": "Y",
            "NAME": {"en": "Check leave balance in 1C"},
            "PROPERTIES": {"employee": {"Name": "Employee", "Type": "user", "Required": "Y"}},
            "RETURN_PROPERTIES": {
                "approver": {"Name": "Approver", "Type": "user"},
                "balance": {"Name": "Days"},
            },
            "DOCUMENT_TYPE": ["lists", "BizprocDocument", "iblock_1"],
            **extra,
        },
    )


def leave_template(b24: RunningSandbox, iblock: int, **step: Any) -> int:
    steps = [
        {
            "type": "rest",
            "name": "A1",
            "code": "check_balance",
            "properties": {"employee": "{=Document:CREATED_BY}"},
            **step,
        },
        {
            "type": "approve",
            "name": "A2",
            "title": "Approve leave: {=Document:NAME}",
            "users": "{=A1:approver}",
            "approved": [
                {"type": "set_field", "field": "PROPERTY_STATUS", "value": "approved"},
                {"type": "notify", "to": "{=Document:CREATED_BY}", "message": "Leave approved"},
            ],
            "rejected": [
                {"type": "set_field", "field": "PROPERTY_STATUS", "value": "rejected"},
                {"type": "notify", "to": "{=Document:CREATED_BY}", "message": "Leave rejected"},
                {"type": "stop"},
            ],
        },
        {"type": "set_field", "field": "PROPERTY_STATUS", "value": "sent to 1C"},
    ]
    return engine.install_template(
        b24.sandbox.portal,
        name="Leave",
        steps=steps,
        auto_execute=engine.ON_CREATE,
        document_type=["lists", "BizprocDocument", f"iblock_{iblock}"],
    )


def element_row(rest: Rest, iblock: int, element_id: int) -> dict[str, Any]:
    rows = rest.ok(
        "lists.element.get",
        {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock, "ELEMENT_ID": element_id},
    )
    return dict(rows[0])


def prop_id(rest: Rest, iblock: int, code: str) -> str:
    fields = rest.ok("lists.field.get", {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock})
    return str(next(f["ID"] for f in fields.values() if f.get("CODE") == code))


def manual_template(b24: RunningSandbox, iblock: int, steps: list[dict[str, Any]]) -> int:
    return engine.install_template(
        b24.sandbox.portal,
        name="Manual",
        steps=steps,
        auto_execute=engine.ON_CREATE,
        document_type=["lists", "BizprocDocument", f"iblock_{iblock}"],
    )
