"""The bridge's HTTP service: Bitrix24 events, the admin API, health. Built by ``create_app``.

Domain errors become HTTP statuses here and nowhere else; bodies over ``server.max_body_bytes`` are
refused with 413 before they are read into memory.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from config.settings import Settings
from config.wiring import Store
from connectors.errors import BridgeError, ConfigError
from sync.managers import ManagerError
from webhooks import admin, events


class BodyLimit:
    """Refuse request bodies larger than ``limit`` bytes (by Content-Length or while streaming)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(scope, receive, send, self.limit)
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
    response = JSONResponse(
        {"error": "body_too_large", "detail": f"request bodies are limited to {limit} bytes"}, 413
    )
    await response(scope, receive, send)


def create_app(settings: Settings, store: Store) -> FastAPI:
    app = FastAPI(
        title="Extranet Bridge", version="0.1.0", docs_url="/admin/docs", openapi_url="/admin/openapi.json"
    )
    app.state.settings = settings
    app.state.store = store
    app.include_router(events.router)
    app.include_router(admin.router)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(ManagerError)
    async def _bad_assignment(_request: Request, exc: ManagerError) -> JSONResponse:
        return JSONResponse({"error": "invalid_assignment", "detail": exc.operator_message}, 422)

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"error": "not_configured", "detail": exc.operator_message}, 503)

    @app.exception_handler(BridgeError)
    async def _bridge(_request: Request, exc: BridgeError) -> JSONResponse:
        return JSONResponse({"error": "bridge_error", "detail": exc.operator_message}, 500)

    app.add_middleware(BodyLimit, limit=settings.server.max_body_bytes)
    return app
