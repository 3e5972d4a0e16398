"""Outbound calls from the portal to handler URLs: events, the app install, activity call-outs.

Owns the wire format (POST, ``application/x-www-form-urlencoded``, PHP bracket notation) and the outbox
that delivers in the background after a REST call returns, as Bitrix24's queue server does. Failed
deliveries are recorded and never retried. Sources: bitrix24-rest.md §6.2 ("POST, form-encoded, nested
data in bracket notation … No retries"), api-reference/events/index.md.

Synchronous method handlers only ``put`` into ``portal.outbox``; the app kicks the outbox after each
request, and ``/_sandbox/events/flush`` (or ``await outbox.flush()``) waits until everything was sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.bitrix24.params import encode_form

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class DeliveryResult:
    url: str
    label: str
    status: int | None
    """HTTP status of the handler's answer, None when the connection failed."""
    error: str | None = None
    body: str = ""


async def post_form(
    url: str, payload: dict[str, Any], *, label: str = "", timeout: float = 10.0
) -> DeliveryResult:
    """POST ``payload`` form-encoded with bracket notation; never raises (the outcome is returned)."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(url, content=encode_form(payload), headers={"Content-Type": FORM})
        return DeliveryResult(url, label, response.status_code, None, response.text[:2000])
    except httpx.HTTPError as exc:
        log.info("delivery failed label=%s error=%s", label, type(exc).__name__)
        return DeliveryResult(url, label, None, type(exc).__name__)


def post_form_sync(
    url: str, payload: dict[str, Any], *, label: str = "", timeout: float = 10.0
) -> DeliveryResult:
    """Blocking variant of ``post_form`` (for CLI/tests outside an event loop)."""
    try:
        response = httpx.post(
            url, content=encode_form(payload), headers={"Content-Type": FORM}, timeout=timeout
        )
        return DeliveryResult(url, label, response.status_code, None, response.text[:2000])
    except httpx.HTTPError as exc:
        return DeliveryResult(url, label, None, type(exc).__name__)


class Outbox:
    """Deliveries waiting to go out, and those in flight. One per portal."""

    def __init__(self, record: list[dict[str, Any]], clock_now: Any) -> None:
        self._record = record
        self._now = clock_now
        self._pending: list[tuple[str, dict[str, Any], str]] = []
        self._tasks: set[asyncio.Task[DeliveryResult]] = set()

    def put(self, url: str, payload: dict[str, Any], label: str) -> None:
        """Queue one POST; it is sent after the current request (bitrix24-rest.md §6.2: via a queue)."""
        self._pending.append((url, payload, label))

    def bind_record(self, record: list[dict[str, Any]]) -> None:
        self._record = record

    async def _send(self, url: str, payload: dict[str, Any], label: str) -> DeliveryResult:
        result = await post_form(url, payload, label=label)
        self._record.append(
            {
                "label": label,
                "url": url,
                "status": result.status,
                "error": result.error,
                "at": self._now(),
                "payload": payload,
                "response": result.body[:500],
            }
        )
        return result

    def kick(self) -> None:
        """Start sending everything pending (needs a running event loop)."""
        pending, self._pending = self._pending, []
        for url, payload, label in pending:
            task = asyncio.get_running_loop().create_task(self._send(url, payload, label))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def flush(self) -> list[DeliveryResult]:
        """Send what is pending and wait until nothing is in flight."""
        results: list[DeliveryResult] = []
        while self._pending or self._tasks:
            self.kick()
            if self._tasks:
                done = await asyncio.gather(*list(self._tasks), return_exceptions=True)
                results.extend(r for r in done if isinstance(r, DeliveryResult))
        return results

    def clear(self) -> None:
        self._pending.clear()
