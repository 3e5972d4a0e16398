"""The bridge's HTTP service: Bitrix24 events, the admin API (status, managers, processes), health,
readiness and metrics (webhooks/health.py, webhooks/metrics.py). Built by ``create_app``.

Domain errors become HTTP statuses here and nowhere else, in one shape (webhooks/errors.py); bodies
over ``server.max_body_bytes`` are refused with 413 before they are read into memory. The OpenAPI
document and its browsable page are part of the admin API: served only with the admin token.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from config.settings import Settings
from config.wiring import Store
from connectors.errors import BridgeError, ConfigError, Transient
from core.errors import StoreError
from portal.mount import mount_portal
from processes.catalog import Catalog
from sync.managers import ManagerError
from webhooks import activity, admin, admin_processes, events, health
from webhooks.deps import AdminUser
from webhooks.errors import Refusal
from webhooks.inbox_writer import InboxWriter
from webhooks.installed import InstalledApp
from webhooks.metrics import Metrics, RequestMetrics

TITLE = "Extranet Bridge"
log = logging.getLogger(__name__)


class BodyLimit:
    """Refuse request bodies larger than ``limit`` bytes (by Content-Length or while streaming)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = None, False
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is not None and declared.isdigit() and not chunked:
            if int(declared) > self.limit:
                await _too_large(scope, receive, send, self.limit)
                return
            # The server delivers exactly the declared length (h11 and httptools frame the body by it).
            await self.app(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(scope, receive, send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = _problem(413, "body_too_large", f"request bodies are limited to {limit} bytes")
    await response(scope, receive, send)


def _problem(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status, headers=headers)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(settings: Settings, store: Store, *, catalog: Catalog | None = None) -> FastAPI:
    """The service; ``catalog`` replaces the shipped process catalog (tests)."""
    app = FastAPI(title=TITLE, version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.catalog = catalog
    app.state.readiness = health.Readiness(settings, store)
    app.state.metrics = Metrics(settings, store)
    app.state.inbox_writer = InboxWriter(store.sessions)
    app.state.installed_app = InstalledApp(store.sessions)
    # The call-out route first: it is matched on every call-out, the busiest path.
    routers = (activity.router, events.router, admin.router, admin_processes.router, health.router)
    for router in routers:
        app.include_router(router)
    mount_portal(app, settings, store)

    @app.get("/admin/openapi.json", include_in_schema=False)
    def openapi(_: AdminUser) -> dict[str, Any]:
        return app.openapi()

    @app.get("/admin/docs", include_in_schema=False)
    def docs(_: AdminUser) -> HTMLResponse:
        # The document is embedded: the page needs no second, token-less request for it.
        return get_swagger_ui_html(
            openapi_url="", title=TITLE, swagger_ui_parameters={"spec": jsonable_encoder(app.openapi())}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = exc.error if isinstance(exc, Refusal) else _CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only those of the first route matched
            headers["Allow"] = ", ".join(_allowed(app, request.scope))
        return _problem(exc.status_code, error, str(exc.detail), headers or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem(422, "invalid_request", _validation_detail(exc))

    @app.exception_handler(ManagerError)
    async def _bad_assignment(_request: Request, exc: ManagerError) -> JSONResponse:
        return _problem(422, "invalid_assignment", exc.operator_message)

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, exc: ConfigError) -> JSONResponse:
        return _problem(503, "not_configured", exc.operator_message)

    @app.exception_handler(StoreError)
    async def _store(_request: Request, exc: StoreError) -> JSONResponse:
        return _problem(503, "store_unavailable", exc.operator_message)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Only the class is logged: the error's text quotes the statement and its parameters.
        log.warning("store.error", extra={"error": type(exc).__name__, "path": request.url.path})
        return _problem(503, "store_unavailable", "the state store is unavailable now")

    @app.exception_handler(BridgeError)
    async def _bridge(_request: Request, exc: BridgeError) -> JSONResponse:
        return _problem(503 if isinstance(exc, Transient) else 500, "bridge_error", exc.operator_message)

    app.add_middleware(BodyLimit, limit=settings.server.max_body_bytes)
    # Outermost: a body refused by BodyLimit is counted too.
    routes = [route for router in routers for route in router.routes]
    app.add_middleware(RequestMetrics, metrics=app.state.metrics, routes=routes)
    return app


_CODES = {400: "bad_body", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


def _allowed(app: FastAPI, scope: Scope) -> list[str]:
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, BaseRoute) and route.matches(scope)[0] in (Match.FULL, Match.PARTIAL):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)
