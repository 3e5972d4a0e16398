"""The Bitrix24 sandbox's core vocabulary: REST errors, the caller's identity, and the method registry.

Each method family lives in its own module under sandbox/bitrix24/methods/ and registers its handlers
with ``@method("user.add", scope="user")``. A handler receives the call context and the decoded
parameters (already parsed from JSON, form posts with PHP brackets, or the query string) and returns
the ``result`` value, or a ``Page`` for list methods, or raises ``RestError``.
Sources: ../shared/reference/bitrix24-rest.md (cited per behaviour as §N.N).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# bitrix24-rest.md §8.3: error code → HTTP status (the defaults; a raise may override).
DEFAULT_STATUS: dict[str, int] = {
    "QUERY_LIMIT_EXCEEDED": 503,
    "OPERATION_TIME_LIMIT": 429,
    "ERROR_METHOD_NOT_FOUND": 404,
    "NO_AUTH_FOUND": 401,
    "expired_token": 401,
    "invalid_token": 401,
    "authorization_error": 401,
    "allowed_only_intranet_user": 403,
    "INVALID_CREDENTIALS": 403,
    "insufficient_scope": 403,
    "ACCESS_DENIED": 403,
    "WRONG_AUTH_TYPE": 403,
    "ERROR_ARGUMENT": 400,
    "INVALID_REQUEST": 400,
    "ERROR_BATCH_LENGTH_EXCEEDED": 400,
    "ERROR_BATCH_METHOD_NOT_ALLOWED": 405,
    "ERROR_CORE": 400,
    "INTERNAL_SERVER_ERROR": 500,
    "ERROR_UNEXPECTED_ANSWER": 500,
    "PORTAL_DELETED": 500,
    "OVERLOAD_LIMIT": 503,
    "user_access_error": 403,
    "ERROR_MANIFEST_IS_NOT_AVAILABLE": 404,
}


class RestError(Exception):
    """A documented Bitrix24 error: ``{"error": code, "error_description": description}`` + HTTP status."""

    def __init__(self, code: str, description: str = "", status: int | None = None, **extra: Any) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status if status is not None else DEFAULT_STATUS.get(code, 400)
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description, **self.extra}


@dataclass
class Caller:
    """Who is calling: the user behind the webhook or the OAuth token, and what they may do."""

    user_id: int
    scopes: frozenset[str]
    is_admin: bool = False
    via: str = "webhook"
    """webhook | app"""
    client_id: str | None = None
    """The application's client_id when ``via == "app"``."""
    credential: str = ""
    """Which app or webhook is calling: the operating-time limit is kept per app/webhook (§8.2)."""


@dataclass
class Page:
    """A list-method result: the items of this page, and the total of the filtered list (or None)."""

    items: list[Any]
    total: int | None
    next: int | None = None
    key: str | None = None
    """The list sits under this key of ``result`` (tasks.task.list: ``{"tasks": [...]}``), else it is it."""
    zero_total_in_batch: bool = True
    """Inside a batch an empty page still reports ``result_total {key: 0}`` (fast-bitrix24
    tests/real_responses/batch_list_empty.py); user.get's does not (batch.md example, bitrix24-rest.md §7)."""


# bitrix24-rest.md §9.1; the wording is the one documented for app-only methods
# (api-reference/bizproc/bizproc-activity: ACCESS_DENIED "Access denied! Application context required").
APP_CONTEXT_REQUIRED = ("ACCESS_DENIED", "Access denied! Application context required")


@dataclass(frozen=True)
class MethodSpec:
    name: str
    scope: str
    handler: Callable[..., Any]
    app_only: bool = False
    """True for methods an incoming webhook may not call (bitrix24-rest.md §9.1)."""
    list_method: bool = False
    webhook_error: tuple[str, str] = APP_CONTEXT_REQUIRED
    """(code, description) answered (HTTP 403) when a webhook calls an ``app_only`` method."""


METHODS: dict[str, MethodSpec] = {}


def method(
    name: str,
    *,
    scope: str,
    app_only: bool = False,
    list_method: bool = False,
    webhook_error: tuple[str, str] | None = None,
) -> Callable[..., Any]:
    """Register a REST method handler: ``handler(ctx, params) -> result | Page``.

    ``scope`` may list alternatives separated by ``|`` (e.g. ``"user|user_basic|user_brief"``); the caller
    needs one of them. ``webhook_error`` overrides the refusal of an ``app_only`` method to a webhook
    (placement.bind answers ``WRONG_AUTH_TYPE``, bitrix24-rest.md §9.2).
    """

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        METHODS[name.lower()] = MethodSpec(
            name, scope, handler, app_only, list_method, webhook_error or APP_CONTEXT_REQUIRED
        )
        return handler

    return register


@dataclass
class CallContext:
    """What a handler may use: the portal's state, the caller, and the sandbox's clock."""

    portal: Any
    """sandbox.bitrix24.state.Portal"""
    caller: Caller
    extra: dict[str, Any] = field(default_factory=dict)
