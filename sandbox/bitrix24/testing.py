"""A running Bitrix24 sandbox for tests of any package: start it in a thread, drive its knobs.

    with run_sandbox(rate=100, burst=1000) as sb:
        httpx.post(sb.webhook_url + "user.add.json", json={...})
        sb.knobs.accept(user_id)

Owns only test plumbing; the sandbox itself is app.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.bitrix24.app import Sandbox, create_app
from sandbox.bitrix24.config import SandboxConfig, WebhookConfig
from sandbox.server import free_port, serve_in_thread

__all__ = [
    "T0",
    "Captured",
    "Knobs",
    "Rest",
    "RunningSandbox",
    "SandboxConfig",
    "WebhookConfig",
    "capture_server",
    "run_sandbox",
]

T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z — where the conformance tests freeze the portal clock."""


class Rest:
    """Calls ``<webhook>/<method>.json`` with a JSON body and returns the httpx response."""

    def __init__(self, base: str, http: httpx.Client) -> None:
        self.base = base
        self.http = http

    def __call__(self, method: str, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.http.post(f"{self.base}{method}.json", json=body or {}, **kw)

    def ok(self, method: str, body: dict[str, Any] | None = None) -> Any:
        response = self(method, body)
        assert response.status_code == 200, response.text
        return response.json()["result"]


class Knobs:
    """A small client for ``/_sandbox/``."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    def _get(self, path: str, **query: Any) -> Any:
        response = self.http.get(path, params=query)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._post("/_sandbox/reset")

    def clock(self, **body: Any) -> dict[str, Any]:
        """``set=t`` (frozen), ``advance=s``, ``freeze=True``, ``run=True``."""
        result: dict[str, Any] = self._post("/_sandbox/clock", body)
        return result

    def advance(self, seconds: float) -> float:
        return float(self.clock(advance=seconds)["now"])

    def freeze(self, at: float | None = None) -> float:
        return float(self.clock(set=at)["now"] if at is not None else self.clock(freeze=True)["now"])

    def faults(self, **profile: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._post("/_sandbox/faults", profile)
        return result

    def limits(self, **settings: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._post("/_sandbox/limits", settings)
        return result

    def system_error(self, code: str | None, *, method: str | None = None, count: int | None = None) -> None:
        """Answer REST calls with a documented system error (bitrix24-rest.md §8.3); ``None`` clears."""
        self._post("/_sandbox/system-error", {"code": code, "method": method, "count": count})

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/_sandbox/state")
        return result

    def users(self, **query: Any) -> list[dict[str, Any]]:
        return list(self._get("/_sandbox/users", **query)["users"])

    def user(self, user_id: int) -> dict[str, Any] | None:
        rows = self.users(id=user_id)
        return rows[0] if rows else None

    def add_user(self, fields: dict[str, Any], *, is_admin: bool = False, registered: bool = True) -> int:
        return int(
            self._post("/_sandbox/users", {"fields": fields, "is_admin": is_admin, "registered": registered})[
                "id"
            ]
        )

    def accept(self, user_id: int) -> dict[str, Any]:
        """The invitee accepts the invitation and logs in (fires ONUSERADD)."""
        result: dict[str, Any] = self._post(f"/_sandbox/users/{user_id}/accept")
        return result

    def groups(self) -> list[dict[str, Any]]:
        return list(self._get("/_sandbox/groups")["groups"])

    def departments(self) -> list[dict[str, Any]]:
        return list(self._get("/_sandbox/departments")["departments"])

    def invitations(self) -> list[dict[str, Any]]:
        return list(self._get("/_sandbox/invitations")["invitations"])

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self._get("/_sandbox/deliveries")["deliveries"])

    def bindings(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/_sandbox/bindings")
        return result

    def log(self) -> list[dict[str, Any]]:
        import json

        text = self.http.get("/_sandbox/log").text
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def flush(self) -> None:
        """Wait until every queued outbound call (events, call-outs) was delivered."""
        self._post("/_sandbox/events/flush")

    def notifications(self, user_id: int) -> list[str]:
        """The texts of the notifications a user received (im.notify*)."""
        rows = self._get("/_sandbox/im/notifications", user_id=user_id)["notifications"]
        return [str(r["message"]) for r in rows]

    def install(self, handler_url: str | None = None) -> dict[str, Any]:
        """Install the local app; returns ``{"auth": {access_token, refresh_token, …}, "delivery": …}``."""
        result: dict[str, Any] = self._post("/_sandbox/app/install", {"handler_url": handler_url})
        return result

    def uninstall(self, *, clean: bool = False) -> dict[str, Any]:
        """Uninstall the app (ONAPPUNINSTALL to its handlers; tokens and bindings removed)."""
        result: dict[str, Any] = self._post("/_sandbox/app/uninstall", {"clean": clean})
        return result

    def app(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/_sandbox/app")
        return result

    def webhook(self, *, user_id: int = 1, scopes: list[str], code: str | None = None) -> str:
        body: dict[str, Any] = {"user_id": user_id, "scopes": scopes}
        if code:
            body["code"] = code
        return str(self._post("/_sandbox/webhooks", body)["url"])

    def open_placement(
        self, placement: str, user_id: int, *, options: dict[str, Any] | None = None, post: bool = True
    ) -> dict[str, Any]:
        """Open the app's handler bound to ``placement`` as ``user_id`` (placement_knobs.py)."""
        body = {"placement": placement, "user_id": user_id, "options": options or {}, "post": post}
        result: dict[str, Any] = self._post("/_sandbox/placement/open", body)
        return result

    def close(self) -> None:
        self.http.close()


@dataclass
class RunningSandbox:
    base_url: str
    webhook_url: str
    """``http://127.0.0.1:N/rest/1/<code>/`` — append ``user.add.json`` etc."""
    knobs: Knobs
    app: Any

    @property
    def sandbox(self) -> Sandbox:
        """The in-process state (for assertions that the knobs do not cover)."""
        sandbox: Sandbox = self.app.state.sandbox
        return sandbox


@dataclass
class Captured:
    """One POST a handler URL received: its path and its form decoded with PHP brackets."""

    path: str
    form: dict[str, Any]
    raw: str
    query: str = ""


@contextmanager
def capture_server(status: int = 200) -> Iterator[tuple[str, list[Captured]]]:
    """A throw-away HTTP server recording every POST (event/install/activity handlers in tests).

    Yields ``(base_url, received)``; handlers are ``base_url + "/any/path"``.
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from sandbox.bitrix24.params import parse_query

    received: list[Captured] = []

    async def record(request: Request) -> PlainTextResponse:
        raw = (await request.body()).decode("utf-8", "replace")
        received.append(Captured(request.url.path, parse_query(raw), raw, request.url.query))
        return PlainTextResponse("OK", status_code=status)

    app = Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield url, received


@contextmanager
def run_sandbox(config: SandboxConfig | None = None, **overrides: Any) -> Iterator[RunningSandbox]:
    """Start a sandbox on a free loopback port; ``overrides`` replace fields of ``config``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = dataclasses.replace(config or SandboxConfig(), public_url=base, **overrides)
    app = create_app(config)
    with serve_in_thread(app, port=port) as url:
        knobs = Knobs(url)
        try:
            hook = app.state.sandbox.webhook_urls(url)[0]
            yield RunningSandbox(url, hook, knobs, app)
        finally:
            knobs.close()
