"""Portal-wide conditions a test can switch on: every documented system error, answered for REST calls.

Owns the table of system errors (code → HTTP status, documented message) and the forced-error switch.
Source: bitrix24-rest.md §8.3 (_includes/system-errors.md): INTERNAL_SERVER_ERROR 500, ERROR_UNEXPECTED_ANSWER
500, QUERY_LIMIT_EXCEEDED 503, NO_AUTH_FOUND 401, INVALID_REQUEST 400 "Https required", OVERLOAD_LIMIT 503,
ACCESS_DENIED 403 (REST on paid plans only), INVALID_CREDENTIALS 403, ERROR_MANIFEST_IS_NOT_AVAILABLE 404,
insufficient_scope 403, expired_token 401, user_access_error 403, PORTAL_DELETED 500.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sandbox.bitrix24.core import RestError

SYSTEM_ERRORS: dict[str, tuple[int, str]] = {
    "INTERNAL_SERVER_ERROR": (500, "Internal server error"),
    "ERROR_UNEXPECTED_ANSWER": (500, "Server returned an unexpected response"),
    "QUERY_LIMIT_EXCEEDED": (503, "Too many requests"),
    "NO_AUTH_FOUND": (401, "Wrong authorization data"),
    "INVALID_REQUEST": (400, "Https required"),
    "OVERLOAD_LIMIT": (503, "REST API is blocked due to overload"),
    "ACCESS_DENIED": (403, "REST API is available only on commercial plans"),
    "INVALID_CREDENTIALS": (403, "Invalid request credentials"),
    "ERROR_MANIFEST_IS_NOT_AVAILABLE": (404, "Manifest is not available"),
    "insufficient_scope": (403, "The request requires higher privileges than provided by the webhook token"),
    "expired_token": (401, "The access token provided has expired"),
    "user_access_error": (403, "The user does not have access to the application"),
    "PORTAL_DELETED": (500, "Portal was deleted"),
}


@dataclass
class _Forced:
    code: str
    method: str | None
    remaining: int | None


class ForcedErrors:
    """Answer the next ``count`` REST calls (all, or one method) with a documented system error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forced: _Forced | None = None

    def set(self, code: str | None, *, method: str | None = None, count: int | None = None) -> None:
        if code is not None and code not in SYSTEM_ERRORS:
            raise ValueError(f"not a documented system error: {code}")
        with self._lock:
            self._forced = _Forced(code, method.lower() if method else None, count) if code else None

    def current(self) -> dict[str, object] | None:
        forced = self._forced
        if forced is None:
            return None
        return {"code": forced.code, "method": forced.method, "remaining": forced.remaining}

    def check(self, method: str) -> None:
        """Raise the forced error for ``method`` if one is set (and count it down)."""
        with self._lock:
            forced = self._forced
            if forced is None or (forced.method is not None and forced.method != method):
                return
            if forced.remaining is not None:
                forced.remaining -= 1
                if forced.remaining <= 0:
                    self._forced = None
            status, text = SYSTEM_ERRORS[forced.code]
        raise RestError(forced.code, text, status)
