"""One HTTP request to Bitrix24 through fast-bitrix24, and the translation of whatever goes wrong.

fast-bitrix24 (``BitrixAsync``) stays the client: its ``ServerRequestHandler.request_attempt`` posts the
JSON body to ``<webhook|portal/rest/><method>`` with ``auth`` added for an application. We give it our
own aiohttp session whose ``raise_for_status`` reads the error body first, so Bitrix24's ``error`` and
``error_description`` survive (libraries-and-peers.md §1.4 item 1), and an HTML page (proxy, maintenance)
is recognised instead of failing JSON decoding (item 3). The library's own throttles are set wide open
and its retry loop is not used: our budget and retry policy (gateway.py) replace them.

Owns: the session factory, ``Envelope`` (a parsed response), and ``translate`` (exception →
``Bitrix24ApiError``). Exception texts are redacted: aiohttp's messages carry the URL, which carries
the webhook secret (§1.4 item 8).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import ClientResponse, ClientResponseError
from fast_bitrix24 import BitrixAsync

from connectors.bitrix24.errors import HTML_PAGE, TRANSPORT, Bitrix24ApiError, api_error, classify
from core.redact import redact_text

log = logging.getLogger(__name__)

_WIDE_OPEN = 1_000_000
"""Pool size and rate for fast-bitrix24's own leaky bucket: never binding (our budget governs)."""
_NO_OPERATING_LIMIT = 10**9
"""Its per-method throttle sums ``time.operating``, which is already cumulative (§8.2): keep it inert."""


class HttpFailure(ClientResponseError):
    """An HTTP response that is an error, with its body kept (JSON dict, or None for an HTML page)."""

    def __init__(self, response: ClientResponse, body: dict[str, Any] | None, html: bool) -> None:
        super().__init__(
            response.request_info,
            response.history,
            status=response.status,
            message=f"HTTP {response.status}",
            headers=response.headers,
        )
        self.body = body
        self.html = html


async def keep_error_body(response: ClientResponse) -> None:
    """aiohttp ``raise_for_status`` callable: raise HttpFailure with the body for errors and non-JSON."""
    is_json = response.content_type in ("application/json", "text/json", "text/javascript")
    if response.status < 400 and is_json:
        return
    raw = await response.read()
    body: dict[str, Any] | None = None
    try:
        decoded = json.loads(raw) if raw else None
        body = decoded if isinstance(decoded, dict) else None
    except ValueError:
        body = None
    raise HttpFailure(response, body, html=body is None)


def quiet_libraries() -> None:
    """Below WARNING fast-bitrix24 and aiohttp log whole requests (personal data) and URLs (the webhook
    secret), §1.4 item 8: keep them at WARNING whatever the root level is."""
    for name in ("fast_bitrix24", "aiohttp"):
        if logging.getLogger(name).getEffectiveLevel() < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)


def new_session(timeout_seconds: float) -> aiohttp.ClientSession:
    """A session for one event loop; it must be created and closed on that loop."""
    quiet_libraries()
    return aiohttp.ClientSession(
        raise_for_status=keep_error_body,
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        headers={"User-Agent": "extranet-bridge"},
    )


def new_client(
    base_url: str, session: aiohttp.ClientSession, token_func: Callable[[], Awaitable[str]] | None
) -> Any:
    """fast-bitrix24's client over our session, with its throttles inert and no progress bars."""
    return BitrixAsync(
        base_url,
        token_func=token_func,
        verbose=False,
        respect_velocity_policy=True,  # False breaks its bookkeeping (KeyError on time.operating)
        request_pool_size=_WIDE_OPEN,
        requests_per_second=float(_WIDE_OPEN),
        operating_time_limit=_NO_OPERATING_LIMIT,
        client=session,
        ssl=base_url.startswith("https://"),
    )


@dataclass(frozen=True)
class Envelope:
    """A successful response: ``result`` and its siblings (bitrix24-rest.md §1.2)."""

    result: Any
    total: int | None
    next: int | None
    time: dict[str, Any]

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Envelope:
        total, nxt, timing = body.get("total"), body.get("next"), body.get("time")
        return cls(
            result=body.get("result"),
            total=int(total) if total is not None else None,
            next=int(nxt) if nxt is not None else None,
            time=timing if isinstance(timing, dict) else {},
        )


def _failure_in(exc: BaseException) -> HttpFailure | None:
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return None
        if isinstance(seen, HttpFailure):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def error_from_body(body: dict[str, Any], status: int | None, method: str) -> Bitrix24ApiError:
    """A JSON error body (HTTP error, or HTTP 200 with ``error``) as a classified error."""
    error = body.get("error")
    if isinstance(error, dict):  # REST 3.0 shape: {"error": {"code": …, "message": …}}
        code, description = str(error.get("code", "")), str(error.get("message", ""))
    else:
        code, description = str(error or ""), str(body.get("error_description") or "")
    reset = (body.get("time") or {}).get("operating_reset_at") if isinstance(body.get("time"), dict) else None
    return api_error(
        classify(status, code, description),
        code=code,
        description=description,
        status=status,
        method=method,
        retry_at=float(reset) if reset else None,
    )


def translate(exc: BaseException, method: str) -> Bitrix24ApiError:
    """Any failure of one request as a classified ``Bitrix24ApiError`` (never a library exception)."""
    if isinstance(exc, Bitrix24ApiError):
        return exc
    failure = _failure_in(exc)
    if failure is not None:
        if failure.body is not None:
            return error_from_body(failure.body, failure.status, method)
        if failure.html:
            resolution = classify(failure.status, "", "") if failure.status >= 500 else HTML_PAGE
            return api_error(resolution, code="HTML", status=failure.status, method=method)
    if isinstance(exc, aiohttp.ContentTypeError):
        return api_error(HTML_PAGE, code="HTML", status=exc.status, method=method)
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return api_error(TRANSPORT, code=type(exc).__name__, description=redact_text(str(exc)), method=method)
    raise exc
