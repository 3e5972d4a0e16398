"""``Bitrix24Gateway``: the Bitrix24 port over fast-bitrix24, with the library's gaps closed.

Every request: check the method is not blocked (§8.2) → acquire the portal budget (a batch counts once)
→ one attempt through fast-bitrix24 (transport.py) → classify any failure (errors.py) and act:
RATE_LIMITED fills the budget and backs off; RETRY (5xx, HTML pages, connection resets) backs off
exponentially with tenacity, a limited number of times; REFRESH_TOKEN refreshes and saves the OAuth token,
then retries once; METHOD_BLOCKED records the block in the budget (shared by instances) and raises with
``retry_at`` — calls of other methods go on, and calls of that method fail fast until then; everything
else (400/403, config errors, quarantine) raises at once. Unmapped errors are retried a little, then
raised as FAIL for the operator. ``batch`` gives one outcome per call; ``list_all`` reads 50 pages per
``batch`` request (reads.py). Logs carry methods, codes and counts only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from connectors.bitrix24 import files, reads
from connectors.bitrix24.auth import OAuthTokens
from connectors.bitrix24.budget import Budget
from connectors.bitrix24.encoding import command, encode_params
from connectors.bitrix24.errors import (
    RETRYABLE,
    Action,
    Bitrix24ApiError,
    Resolution,
    api_error,
    classify,
    is_read,
    surely_not_run,
)
from connectors.bitrix24.port import Call, CallOutcome, DownloadedFile
from connectors.bitrix24.transport import Envelope, error_from_body, new_client, new_session, translate

log = logging.getLogger(__name__)

BATCH_LIMIT = 50
BLOCK_SECONDS = 600.0
"""How long Bitrix24 blocks a method when no reset time is known (§8.2: ten minutes)."""
MAX_FILE_BYTES = 20 * 1024 * 1024
"""Default limit of ``download`` (settings: ``bitrix24.max_file_mb``)."""
MAX_COMMAND_CHARS = 8000
"""A longer command (photos, long texts) is sent alone as JSON, not inside a batch (§1.4 item 11)."""


_HALTED = Resolution(Action.RETRY, "not run: an earlier command of the batch failed (halt)")
_NO_RESULT = Resolution(Action.RETRY, "Bitrix24 returned no result for this command")
_WEBHOOK_REFUSED = Resolution(Action.FAIL_CONFIG, "Bitrix24 refused the webhook (expired or revoked?)")
_TOKEN_STILL_REFUSED = Resolution(Action.FAIL_CONFIG, "Bitrix24 refused the freshly refreshed access token")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    """Attempts in all for transient errors (RETRY, RATE_LIMITED)."""
    unmapped_attempts: int = 2
    """Attempts in all for an error the table does not know, before it is parked as FAIL."""
    initial_seconds: float = 0.5
    max_seconds: float = 30.0
    park_wait_seconds: float = 0.0
    """Wait in-process for a blocked method when its block ends within this; otherwise raise."""
    batch_concurrency: int = 4
    """Batch requests of one ``batch()`` call in flight at once (the budget still paces them)."""


@dataclass
class Counters:
    """What the gateway did, for the bench and for metrics."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    token_refreshes: int = 0
    blocked_refusals: int = 0
    batch_commands: int = 0
    batch_requests: int = 0


class Bitrix24Gateway:
    """Implements ``Bitrix24Port``. One instance per portal and per event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        budget: Budget,
        tokens: OAuthTokens | None = None,
        retry: RetryPolicy | None = None,
        timeout_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.budget = budget
        self.tokens = tokens
        self.retry = retry or RetryPolicy()
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.sleep = sleep
        self.max_file_bytes = max_file_bytes
        self.counters = Counters()
        self._session: aiohttp.ClientSession | None = None
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reset_at: dict[str, float] = {}

    # -- lifecycle ---------------------------------------------------------------------------------------
    def _srh(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._session is None or self._session.closed:
            self._session = new_session(self.timeout_seconds)
            token_func = self._token if self.tokens is not None else None
            self._client = new_client(self.base_url, self._session, token_func)
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("a Bitrix24Gateway is bound to the event loop that first used it")
        return self._client.srh

    async def _token(self) -> str:
        assert self.tokens is not None and self._session is not None
        return await self.tokens.access_token(self._session)

    async def __aenter__(self) -> Bitrix24Gateway:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = self._client = self._loop = None

    # -- one request, with every rule applied -----------------------------------------------------------
    async def _attempt(self, method: str, body: dict[str, Any]) -> Envelope:
        srh = self._srh()
        refreshed = False
        while True:
            if self.tokens is not None:
                # Cheap when current; refreshes ahead of expiry. fast-bitrix24 adds it as ``auth``.
                srh.token = await self.tokens.access_token(self._session_or_fail())
            await self.budget.acquire()
            self.counters.requests += 1
            used_token = srh.token
            try:
                raw = await srh.request_attempt(method, body)
                if isinstance(raw, dict) and raw.get("error") is not None and "result" not in raw:
                    raise error_from_body(raw, 200, method)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure is translated; nothing of the library leaks
                error = translate(exc, method)
                if error.action is not Action.REFRESH_TOKEN:
                    raise error from None
                if self.tokens is None:
                    raise api_error(
                        _WEBHOOK_REFUSED, code=error.code, status=error.status, method=method
                    ) from None
                if refreshed:
                    raise api_error(
                        _TOKEN_STILL_REFUSED, code=error.code, status=error.status, method=method
                    ) from None
                srh.token = await self.tokens.refresh(self._session_or_fail(), rejected=used_token)
                self.counters.token_refreshes += 1
                refreshed = True
                continue
            envelope = Envelope.parse(raw)
            self._note_reset(method, envelope.time)
            return envelope

    def _session_or_fail(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

    def _note_reset(self, method: str, timing: Mapping[str, Any]) -> None:
        reset = timing.get("operating_reset_at")
        if reset:
            self._reset_at[method] = float(reset)

    def _block_end(self, method: str, error: Bitrix24ApiError) -> float:
        now = self.clock()
        for candidate in (error.retry_at, self._reset_at.get(method)):
            if candidate and candidate > now:
                return candidate
        return now + BLOCK_SECONDS

    async def _check_blocked(self, method: str) -> None:
        until = await self.budget.blocked_until(method)
        if until is None:
            return
        wait = until - self.clock()
        if 0 < wait <= self.retry.park_wait_seconds:
            await self.sleep(wait)
            return
        self.counters.blocked_refusals += 1
        raise api_error(
            classify(429, "OPERATION_TIME_LIMIT"), code="OPERATION_TIME_LIMIT", method=method, retry_at=until
        )

    async def _request(
        self, method: str, body: dict[str, Any], *, idempotent: bool | None = None
    ) -> Envelope:
        """One logical request: blocked check, retries with backoff, block recording.

        A write is sent again only after an error that proves Bitrix24 did not run it (rate limit, block,
        expired token, no connection); after a lost answer, a 500 or a proxy page its outcome is unknown,
        so the error is raised with ``outcome_unknown`` and the caller checks before re-sending.
        """
        method = method.strip().lower()
        safe_to_repeat = is_read(method) if idempotent is None else idempotent
        unmapped = 0

        def should_retry(exc: BaseException) -> bool:
            nonlocal unmapped
            if not isinstance(exc, Bitrix24ApiError) or exc.action not in RETRYABLE:
                return False
            if not safe_to_repeat and not surely_not_run(exc):
                exc.outcome_unknown = True
                return False
            if not exc.resolution.mapped:
                unmapped += 1
                if unmapped >= self.retry.unmapped_attempts:
                    return False
            self.counters.retries += 1
            log.warning("bitrix24.retry", extra={"method": method, "code": exc.code, "status": exc.status})
            return True

        retrying = self._retrying(should_retry)
        for _park in range(3):  # a block met again after waiting it out is raised, not waited forever
            await self._check_blocked(method)
            try:
                async for attempt in retrying:
                    with attempt:
                        try:
                            return await self._attempt(method, body)
                        except Bitrix24ApiError as exc:
                            if exc.action is Action.RATE_LIMITED:
                                self.counters.rate_limited += 1
                                await self.budget.saturate()
                            raise
            except Bitrix24ApiError as exc:
                if exc.action is Action.METHOD_BLOCKED:
                    until = self._block_end(method, exc)
                    await self.budget.block(method, until)
                    log.warning(
                        "bitrix24.method.blocked",
                        extra={"method": method, "seconds": round(until - self.clock())},
                    )
                    if until - self.clock() <= self.retry.park_wait_seconds:
                        continue
                    raise api_error(
                        exc.resolution, code=exc.code, status=exc.status, method=method, retry_at=until
                    ) from None
                if not exc.resolution.mapped:
                    log.warning("bitrix24.error.parked", extra={"method": method, "code": exc.code})
                    raise api_error(
                        Resolution(
                            Action.FAIL, exc.resolution.operator_message + "; parked for the operator", False
                        ),
                        code=exc.code,
                        description=exc.description,
                        status=exc.status,
                        method=method,
                    ) from None
                log.warning(
                    "bitrix24.call.failed",
                    extra={"method": method, "code": exc.code, "action": exc.action.value},
                )
                raise
        raise api_error(classify(429, "OPERATION_TIME_LIMIT"), code="OPERATION_TIME_LIMIT", method=method)

    # -- the port ----------------------------------------------------------------------------------------
    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call one method with a JSON body (values encoded, nothing mangled); returns ``result``."""
        envelope = await self._request(method, encode_params(params))
        return envelope.result

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        """Every call in ``batch`` requests of ≤50; one outcome per call, in order; never raises for one."""
        labels = _labels(calls)
        outcomes: dict[str, CallOutcome] = {}
        pending: list[tuple[str, Call, str]] = []
        blocked: dict[str, float | None] = {}  # one look at the shared budget per method, not per command
        for label, item in zip(labels, calls, strict=True):
            method = item.method.strip().lower()
            if method not in blocked:
                blocked[method] = await self.budget.blocked_until(method)
            until = blocked[method]
            if until is not None and until > self.clock():
                self.counters.blocked_refusals += 1
                error = api_error(
                    classify(429, "OPERATION_TIME_LIMIT"),
                    code="OPERATION_TIME_LIMIT",
                    method=method,
                    retry_at=until,
                )
                outcomes[label] = CallOutcome(item.label or label, error=error)
                continue
            text = command(method, item.params)
            if len(text) > MAX_COMMAND_CHARS:
                outcomes[label] = await self._single_outcome(item.label or label, item)
                continue
            pending.append((label, item, text))
        chunks = [pending[i : i + BATCH_LIMIT] for i in range(0, len(pending), BATCH_LIMIT)]
        gate = asyncio.Semaphore(max(1, self.retry.batch_concurrency))

        async def run(chunk: list[tuple[str, Call, str]]) -> None:
            async with gate:
                outcomes.update(await self._batch_chunk(chunk, halt))

        await asyncio.gather(*(run(chunk) for chunk in chunks))
        return [outcomes[label] for label in labels]

    async def _single_outcome(self, label: str, item: Call) -> CallOutcome:
        try:
            return CallOutcome(label, result=await self.call(item.method, item.params))
        except Bitrix24ApiError as exc:
            return CallOutcome(label, error=exc)

    async def _batch_chunk(self, chunk: list[tuple[str, Call, str]], halt: bool) -> dict[str, CallOutcome]:
        body = {"halt": 1 if halt else 0, "cmd": {label: text for label, _item, text in chunk}}
        self.counters.batch_requests += 1
        self.counters.batch_commands += len(chunk)
        reads_only = all(is_read(item.method) for _label, item, _text in chunk)
        try:
            envelope = await self._request("batch", body, idempotent=reads_only)
        except Bitrix24ApiError as exc:
            return {label: CallOutcome(item.label or label, error=exc) for label, item, _text in chunk}
        inner = envelope.result if isinstance(envelope.result, dict) else {}
        results = _as_dict(inner.get("result"))
        errors = _as_dict(inner.get("result_error"))
        timings = _as_dict(inner.get("result_time"))
        outcomes: dict[str, CallOutcome] = {}
        for label, item, _text in chunk:
            name = item.label or label
            method = item.method.strip().lower()
            if isinstance(timings.get(label), dict):
                self._note_reset(method, timings[label])
            if label in errors:
                entry = errors[label] if isinstance(errors[label], dict) else {"error": str(errors[label])}
                error = error_from_body(entry, None, method)
                if error.action is Action.METHOD_BLOCKED:
                    until = self._block_end(method, error)
                    await self.budget.block(method, until)
                    error = api_error(error.resolution, code=error.code, method=method, retry_at=until)
                outcomes[label] = CallOutcome(name, error=error)
            elif label in results:
                outcomes[label] = CallOutcome(name, result=results[label])
            else:
                resolution = _HALTED if halt and errors else _NO_RESULT
                outcomes[label] = CallOutcome(
                    name, error=api_error(resolution, code="NOT_RUN", method=method)
                )
        return outcomes

    def _retrying(self, should_retry: Callable[[BaseException], bool]) -> AsyncRetrying:
        """The retry schedule of every call: exponential with jitter, ``self.retry``'s bounds."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential(multiplier=self.retry.initial_seconds, max=self.retry.max_seconds)
            + wait_random(0, self.retry.initial_seconds),
            retry=retry_if_exception(should_retry),
            sleep=self.sleep,
            reraise=True,
        )

    async def download(
        self, link: str, *, fallback_name: str, max_bytes: int | None = None
    ) -> DownloadedFile:
        """A file a method linked to (files.py): the application's token as ``auth``, refreshed once when
        the portal answers with its authorisation page; transient failures retried as REST calls are;
        refused over ``max_bytes`` (default ``max_file_bytes``) with FAIL ``FILE_TOO_LARGE``."""
        if self.tokens is None:
            raise api_error(files.NEEDS_APP, code="NO_APP_TOKEN", method=files.METHOD)
        url = files.absolute(self.base_url, link)
        limit = max_bytes if max_bytes is not None else self.max_file_bytes
        files.quiet_httpx()

        def should_retry(exc: BaseException) -> bool:
            if not isinstance(exc, Bitrix24ApiError) or exc.action not in RETRYABLE:
                return False
            self.counters.retries += 1
            log.warning(
                "bitrix24.retry", extra={"method": files.METHOD, "code": exc.code, "status": exc.status}
            )
            return True

        retrying = self._retrying(should_retry)
        headers = {"User-Agent": "extranet-bridge", "Accept": "*/*"}
        async with httpx.AsyncClient(timeout=self.timeout_seconds, headers=headers) as client:
            async for attempt in retrying:
                with attempt:
                    return await self._fetch(client, url, limit, fallback_name)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _fetch(
        self, client: httpx.AsyncClient, url: str, limit: int, fallback_name: str
    ) -> DownloadedFile:
        """One download attempt; a login page means the token was refused: refresh it once, try again."""
        assert self.tokens is not None
        self._srh()  # the aiohttp session that token refreshes use, bound to this loop
        session = self._session_or_fail()
        token = await self.tokens.access_token(session)
        for refreshed in (False, True):
            try:
                return await files.fetch(client, url, token, max_bytes=limit, fallback_name=fallback_name)
            except Bitrix24ApiError as exc:
                if exc.action is not Action.REFRESH_TOKEN:
                    raise
                if refreshed:
                    raise api_error(
                        files.LOGIN_AGAIN, code=exc.code, status=exc.status, method=files.METHOD
                    ) from None
            token = await self.tokens.refresh(session, rejected=token)
            self.counters.token_refreshes += 1
        raise AssertionError("unreachable: the second attempt returns or raises")

    def list_all(
        self, method: str, params: Mapping[str, Any] | None = None, *, id_key: str = "ID"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every item, page by page, 50 pages per ``batch`` request (reads.py: ``>ID`` keyset chained by
        ``$result`` references with ``start=-1``; ``department.get`` by ``start`` offsets)."""
        return reads.list_pages(self, method, params, id_key=id_key)


def _labels(calls: Sequence[Call]) -> list[str]:
    """Command keys: the caller's labels (kept, so ``$result[label]`` works) or ``c<index>``."""
    labels = [call.label or f"c{index}" for index, call in enumerate(calls)]
    if len(set(labels)) != len(labels):
        raise ValueError("batch labels must be unique")
    return labels


def _as_dict(value: Any) -> dict[str, Any]:
    """A batch section by command key. Sections are PHP arrays through json_encode: keys 0..n-1 come
    back as a JSON array (empty ones as ``[]``, bitrix24-rest.md §7; fast-bitrix24
    tests/real_responses/crm_get_batch_of_two_error.py), any other keys as an object."""
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return value if isinstance(value, dict) else {}
