"""The Bitrix24 sandbox as an ASGI app: ``/rest/…`` (webhooks and OAuth), ``/oauth/token/``, ``/_sandbox/``.

Owns HTTP: reading parameters from query string, form posts (PHP brackets) and JSON bodies, picking the
caller, mapping outcomes to responses, and fault injection around ``/rest/``. Method rules live in
methods/, limits in limits.py, the envelope in envelope.py, test knobs in knobs.py.
Sources: bitrix24-rest.md §1.1 (URL forms, ``auth`` in query/form/JSON, ``.json`` suffix), §1.2, §8.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.bitrix24 import methods
from sandbox.bitrix24.auth import ALL_SCOPES, normalise_scopes, refresh, token_caller, webhook_caller
from sandbox.bitrix24.clock import Clock
from sandbox.bitrix24.config import SandboxConfig, WebhookConfig
from sandbox.bitrix24.core import RestError
from sandbox.bitrix24.dispatch import Dispatcher, Outcome, method_name
from sandbox.bitrix24.envelope import error_body
from sandbox.bitrix24.faults import FaultInjector
from sandbox.bitrix24.limits import LeakyBucket, OperatingLedger
from sandbox.bitrix24.params import decode_pairs, parse_query
from sandbox.bitrix24.persist import load_state, save_state
from sandbox.bitrix24.state import App, Portal, Webhook

log = logging.getLogger(__name__)

__all__ = ["SandboxConfig", "WebhookConfig", "create_app"]


class Sandbox:
    """Everything one running sandbox holds; reachable as ``app.state.sandbox``."""

    def __init__(self, config: SandboxConfig) -> None:
        methods.load_all()
        self.config = config
        self.clock = Clock(config.frozen_clock)
        rate, burst = config.limits()
        app = App(
            config.client_id,
            config.client_secret,
            normalise_scopes(config.app_scopes) if config.app_scopes is not None else ALL_SCOPES,
            config.app_handler_url,
        )
        hooks = [
            Webhook(
                w.user_id,
                w.code,
                normalise_scopes(w.scopes) if w.scopes is not None else ALL_SCOPES,
                w.expires_at,
            )
            for w in config.webhooks
        ]
        self.portal = Portal(
            domain=config.domain,
            clock=self.clock,
            app=app,
            webhooks=hooks,
            token_lifetime=config.token_lifetime,
            max_users=config.max_users,
        )
        self.portal.plan = config.plan
        if config.public_url:
            self.portal.public_url = config.public_url.rstrip("/")
        self.bucket = LeakyBucket(rate, burst)
        self.ledger = OperatingLedger(config.op_budget, config.op_costs, config.op_default_cost)
        self.dispatcher = Dispatcher(self.portal, self.bucket, self.ledger)
        self.faults = FaultInjector(config.faults)
        self._url_learnt = bool(config.public_url)
        if config.state_file is not None and config.state_file.exists():
            load_state(self.portal, config.state_file)

    def reset(self) -> None:
        self.portal.reset()
        self.bucket.reset()
        self.ledger.reset()

    def learn_url(self, request: Request) -> None:
        if not self._url_learnt:
            self.portal.public_url = str(request.base_url).rstrip("/")
            self._url_learnt = True

    def webhook_urls(self, base: str | None = None) -> list[str]:
        root = (base or self.portal.public_url).rstrip("/")
        return [f"{root}/rest/{uid}/{code}/" for (uid, code) in self.portal.webhooks]


async def read_params(request: Request) -> dict[str, Any]:
    """Query string + body (JSON object, urlencoded or multipart form), body keys winning (§1.1)."""
    params = parse_query(request.url.query)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method != "POST":
        return params
    if ctype == "application/json":
        raw = await request.body()
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            data = {}
        if isinstance(data, dict):
            params.update(data)
    elif ctype == "multipart/form-data":
        form = await request.form()
        params.update(decode_pairs((k, v) for k, v in form.multi_items() if isinstance(v, str)))
    elif ctype == "application/x-www-form-urlencoded":
        params.update(parse_query((await request.body()).decode("utf-8", "replace")))
    # Any other body is not read: PHP fills $_POST only for form encodings, and Bitrix24 reads
    # php://input only for application/json.
    return params


def _answer(outcome: Outcome) -> Response:
    return JSONResponse(outcome.body, status_code=outcome.status)


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


async def _rest(request: Request, via: str) -> Response:
    sandbox = _sandbox(request)
    sandbox.learn_url(request)
    wall = time.perf_counter()
    params = await read_params(request)
    raw_method = request.path_params["method"]
    try:
        if via == "webhook":
            caller = webhook_caller(
                sandbox.portal, int(request.path_params["user_id"]), request.path_params["code"]
            )
        else:
            caller = token_caller(sandbox.portal, params.pop("auth", None))
            params.pop("AUTH", None)
    except RestError as exc:
        outcome = Outcome(exc.status, error_body(exc), exc.code, method_name(raw_method))
    else:
        outcome = sandbox.dispatcher.call(caller, raw_method, params)
    commands = None
    if outcome.method == "batch":
        cmd = params.get("cmd")
        commands = len(cmd) if isinstance(cmd, dict | list) else None
    sandbox.dispatcher.log(outcome, via=via, duration=time.perf_counter() - wall, commands=commands)
    sandbox.portal.outbox.kick()
    return _answer(outcome)


async def rest_webhook(request: Request) -> Response:
    return await _rest(request, "webhook")


async def rest_oauth(request: Request) -> Response:
    return await _rest(request, "app")


async def oauth_token(request: Request) -> Response:
    """The OAuth server's token endpoint, served by the sandbox itself (settings/oauth/auto-renewal.md)."""
    sandbox = _sandbox(request)
    sandbox.learn_url(request)
    status, body = refresh(sandbox.portal, await read_params(request))
    return JSONResponse(body, status_code=status)


class DroppedConnection(ConnectionAbortedError):
    """Raised on purpose to make the server cut a connection mid-answer (a ``reset``/``timeout`` fault)."""


class _QuietDrops(logging.Filter):
    """Keep uvicorn from logging a traceback for connections the sandbox drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


class FaultMiddleware:
    """Injects the configured faults into ``/rest/`` requests (see faults.py)."""

    def __init__(self, app: Starlette, sandbox: Sandbox) -> None:
        self.app: ASGIApp = app
        self.sandbox = sandbox
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/rest/"):
            await self.app(scope, receive, send)
            return
        profile = self.sandbox.faults.profile
        kind = self.sandbox.faults.draw()
        if profile.latency_ms:
            await asyncio.sleep(profile.latency_ms / 1000)
        if kind is None:
            await self.app(scope, receive, send)
            return
        self.sandbox.portal.request_log.append(
            {"at": self.sandbox.clock.now(), "method": scope["path"].rsplit("/", 1)[-1], "fault": kind}
        )
        if kind == "error_500":
            body = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
            await JSONResponse(body, status_code=500)(scope, receive, send)
        elif kind == "error_503":
            body = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
            await JSONResponse(body, status_code=503)(scope, receive, send)
        elif kind == "html":
            page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body>"
            await HTMLResponse(page, status_code=502)(scope, receive, send)
        else:
            await self._lose_answer(scope, receive, send, kind, profile.timeout_seconds)

    async def _lose_answer(self, scope: Scope, receive: Receive, send: Send, kind: str, wait: float) -> None:
        """Run the call (its effect stays), then drop the connection instead of answering."""

        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        if kind == "timeout":
            await asyncio.sleep(wait)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100000")]}
        )
        await send({"type": "http.response.body", "body": b'{"result":', "more_body": True})
        raise DroppedConnection("sandbox fault: connection dropped")


def create_app(config: SandboxConfig | None = None) -> Any:
    """Build the sandbox app for ``config``; its state is at ``app.state.sandbox`` (a ``Sandbox``)."""
    from sandbox.bitrix24.app_knobs import install_app
    from sandbox.bitrix24.knobs import knob_routes
    from sandbox.bitrix24.lists_download import download_routes
    from sandbox.bitrix24.pages import page_routes

    config = config or SandboxConfig()
    sandbox = Sandbox(config)
    quiet = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in quiet.filters):
        quiet.addFilter(_QuietDrops())

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if config.install_on_start and config.app_handler_url:
            await install_app(sandbox, config.app_handler_url)
        yield
        await sandbox.portal.outbox.flush()
        if config.state_file is not None:
            save_state(sandbox.portal, config.state_file)

    routes = [
        Route("/rest/{user_id:int}/{code}/{method}", rest_webhook, methods=["GET", "POST"]),
        # settings/performance/huge-data.md calls `…/crm.lead.list/` with a trailing slash.
        Route("/rest/{user_id:int}/{code}/{method}/", rest_webhook, methods=["GET", "POST"]),
        Route("/rest/{method}", rest_oauth, methods=["GET", "POST"]),
        Route("/rest/{method}/", rest_oauth, methods=["GET", "POST"]),
        Route("/oauth/token/", oauth_token, methods=["GET", "POST"]),
        Route("/oauth/token", oauth_token, methods=["GET", "POST"]),
        *knob_routes(),
        *download_routes(),
        *page_routes(),
    ]
    inner = Starlette(routes=routes, lifespan=lifespan)
    inner.state.sandbox = sandbox
    return FaultMiddleware(inner, sandbox)
