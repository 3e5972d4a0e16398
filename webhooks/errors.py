"""How the service refuses: one JSON shape, ``{"error": <code>, "detail": <message>}``, for every 4xx/5xx
it answers on purpose, described once for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel


class Problem(BaseModel):
    error: str
    """A stable code, e.g. ``bad_body``, ``unknown_application_token``, ``body_too_large``."""
    detail: str
    """What was wrong, for a person; never a value from the request."""


class Refusal(HTTPException):
    """An HTTP refusal with its stable error code."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, detail, headers)
        self.error = error


_DESCRIPTIONS = {
    400: "The body cannot be read as the documented form or JSON (the detail names the field)",
    401: "Missing or wrong credentials",
    403: "The install could not be verified with the configured portal",
    404: "Not found",
    409: "Conflicts with the current state (the detail says why)",
    413: "The body is larger than server.max_body_bytes",
    422: "A well-formed request the bridge cannot act on",
    503: "Not configured, or the portal could not be reached",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status with the Problem body."""
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in statuses}
