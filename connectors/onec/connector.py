"""OneCConnector: the OneCPort over SOAP, with zeep's async client on httpx.

Set-up is lazy and happens once, on the first call: the WSDL is read (the shipped contract, a file, or
a URL fetched with Basic auth), repaired (connectors/onec/wsdl.py), the port of the configured SOAP
version is bound explicitly to the configured endpoint (1C advertises whatever host fetched the WSDL),
and GetInfo gives the server's time zone that every naive 1C datetime is read in.

Every call goes through ``_call``: zeep builds and posts the envelope and hands back the raw answer
(``raw_response``), ``check_response`` classifies it, and tenacity retries Transient failures (network,
timeouts, 5xx, sessions locked, no licence, lock conflicts) with exponential backoff and jitter. Business
errors are results, never retried. Writes are safe to retry because 1C dedupes them by ``requestId``;
GetChanges is safe to retry because the ack sent is the one the caller committed, nothing newer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

import httpx
import structlog
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random
from zeep import AsyncClient
from zeep.proxy import AsyncServiceProxy
from zeep.settings import Settings

from connectors.errors import Transient
from connectors.onec import encode, records
from connectors.onec import normalise as n
from connectors.onec.contract import WSDL_PATH
from connectors.onec.errors import OneCProtocolError, OneCRequestRejected, OneCTimeout, OneCTransportError
from connectors.onec.port import (
    ChangeBatch,
    DocumentStatus,
    EmploymentRef,
    Record,
    RequestSubmission,
    ScheduleDay,
    ServiceInfo,
    SubmitResult,
    TEntity,
    TimesheetResult,
    TimesheetSubmission,
    WithdrawResult,
)
from connectors.onec.transport import BridgeTransport, basic_auth, check_response, make_http_client, timeouts
from connectors.onec.wsdl import load_wsdl, pick_port
from core.redact import redact_text

log = structlog.get_logger(__name__)
MAX_CLOCK_SKEW_SECONDS = 300
MAX_PAGE_SIZE = 1000
"""The contract's limit on GetSnapshotPage.pageSize (docs/onec-contract.md); larger settings are clamped."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Calls in total, the first included."""
    initial_wait: float = 0.5
    max_wait: float = 30.0
    jitter: float = 1.0


@dataclass(frozen=True)
class OneCOptions:
    wsdl: str = ""
    """A path or an http(s) URL; empty means the contract shipped with the bridge."""
    endpoint: str = ""
    username: str = ""
    password: str = ""
    soap_version: Literal["1.1", "1.2"] = "1.1"
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    page_size: int = 1000
    strict: bool = True
    retry: RetryPolicy = RetryPolicy()


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, Transient)


class OneCConnector:
    """The 1C:ZUP side of the bridge (implements connectors.onec.port.OneCPort)."""

    def __init__(self, options: OneCOptions, *, http: httpx.AsyncClient | None = None) -> None:
        self.options = options
        auth = basic_auth(options.username, options.password)
        self._owns_http = http is None
        self._http = http or make_http_client(
            auth=auth, connect_timeout=options.connect_timeout, read_timeout=options.read_timeout
        )
        self._wsdl_http = httpx.Client(
            auth=auth, timeout=timeouts(options.connect_timeout, options.read_timeout)
        )
        self._transport = BridgeTransport(self._http, self._wsdl_http)
        self._lock = asyncio.Lock()
        self._client: Any = None
        self._service: Any = None
        self._binding: Any = None
        self._info: ServiceInfo | None = None
        self._tz: tzinfo | None = None
        self.address = ""
        self.repairs: tuple[str, ...] = ()

    # ---- set-up ---------------------------------------------------------------------------------------

    async def _wsdl_bytes(self) -> tuple[bytes, str]:
        location = self.options.wsdl or str(WSDL_PATH)
        if not location.startswith(("http://", "https://")):
            return Path(location).read_bytes(), location

        async def fetch() -> bytes:
            try:
                response = await self._http.get(location)
            except httpx.TimeoutException as exc:
                raise OneCTimeout(
                    f"1C did not answer the WSDL request in time ({type(exc).__name__})"
                ) from exc
            except httpx.TransportError as exc:
                raise OneCTransportError(f"fetching the WSDL from 1C failed ({type(exc).__name__})") from exc
            if response.status_code == 200 and b"definitions" in response.content[:4000]:
                return response.content
            check_response(response, "?wsdl")  # raises the typed error of that status or page
            raise OneCProtocolError("the WSDL URL did not return a WSDL")

        return await self._retrying(fetch), location

    async def _ensure_service(self) -> None:
        if self._service is not None:
            return
        async with self._lock:
            if self._service is not None:
                return
            content, source = await self._wsdl_bytes()
            settings = Settings(
                strict=self.options.strict, raw_response=True, xml_huge_tree=True, forbid_external=True
            )
            loaded = load_wsdl(content, transport=self._transport, source=source, settings=settings)
            if loaded.repairs:
                log.warning("onec.wsdl.repaired", repairs=list(loaded.repairs))
            port_name, binding, advertised = pick_port(loaded.document, self.options.soap_version)
            address = self.options.endpoint or _endpoint_from_wsdl_url(source) or advertised
            if not self.options.endpoint:
                log.warning("onec.endpoint.not_configured", using=redact_text(address))
            self._client = AsyncClient(loaded.document, transport=self._transport, settings=settings)  # type: ignore[no-untyped-call]
            self._binding = binding
            self.repairs = loaded.repairs
            self.address = address
            self._service = AsyncServiceProxy(self._client, binding, address=address)  # type: ignore[no-untyped-call]
            log.info("onec.bound", port=port_name, soap_version=self.options.soap_version)

    async def _zone(self) -> tzinfo:
        if self._tz is None:
            await self.info()
        assert self._tz is not None
        return self._tz

    # ---- calls ----------------------------------------------------------------------------------------

    async def _retrying(self, attempt: Any) -> Any:
        policy = self.options.retry
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(policy.attempts),
            wait=wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait)
            + wait_random(0, policy.jitter),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "onec.retry",
                attempt=state.attempt_number,
                error=type(state.outcome.exception()).__name__ if state.outcome else None,
            ),
        )
        return await retrying(attempt)

    async def _call(self, operation: str, **kwargs: Any) -> tuple[Any, bytes]:
        """(zeep's raw response, its checked body) — with retries of Transient failures."""
        await self._ensure_service()

        async def attempt() -> tuple[Any, bytes]:
            response = await self._service[operation](**kwargs)
            return response, check_response(response, operation)

        result: tuple[Any, bytes] = await self._retrying(attempt)
        return result

    async def _call_zeep(self, operation: str, **kwargs: Any) -> Any:
        response, _body = await self._call(operation, **kwargs)
        try:
            return self._binding.process_reply(self._client, self._binding.get(operation), response)
        except Exception as exc:  # zeep: XMLParseError, ValidationError, Fault on a 200 …
            raise OneCProtocolError(
                f"1C answered {operation} with XML the contract does not describe ({type(exc).__name__})",
                internal=redact_text(str(exc)[:300]),
            ) from exc

    # ---- the port -------------------------------------------------------------------------------------

    async def info(self) -> ServiceInfo:
        info = encode.service_info(await self._call_zeep("GetInfo"))
        self._info = info
        self._tz = n.time_zone(info.time_zone)
        skew = abs((info.server_time - datetime.now(UTC)).total_seconds())
        if skew > MAX_CLOCK_SKEW_SECONDS:
            log.warning("onec.clock_skew", seconds=int(skew))
        return info

    async def snapshot(self, entity: TEntity, *, page_size: int | None = None) -> AsyncIterator[list[Record]]:
        """Every record of ``entity``, page by page, keyset-paged on the ref until hasMore is false."""
        tz = await self._zone()
        size = max(1, min(page_size or self.options.page_size, MAX_PAGE_SIZE))
        after = n.EMPTY_REF
        pages = 0
        while True:
            _response, body = await self._call(
                "GetSnapshotPage", entity=entity, afterRef=after, pageSize=size
            )
            page, last, has_more, errors = records.snapshot_page(body, tz)
            if errors:
                raise OneCRequestRejected(
                    f"1C refused the snapshot of {entity} ({', '.join(e.code for e in errors)})",
                    codes=tuple(e.code for e in errors),
                )
            pages += 1
            if page:
                yield page
            if not has_more:
                log.info("onec.snapshot.done", entity=entity, pages=pages)
                return
            if last is None or last == after:
                raise OneCProtocolError(f"1C's snapshot paging of {entity} stalled (lastRef did not advance)")
            after = last

    async def changes(self, ack_message_no: int, max_items: int = 500) -> ChangeBatch:
        """The next batch of the exchange-plan feed. ``ack_message_no`` must be the last message number the
        caller has *committed* (0 at first): 1C then forgets everything up to it and re-sends the rest."""
        if ack_message_no < 0 or max_items <= 0:
            raise ValueError("ack_message_no must be >= 0 and max_items > 0")
        tz = await self._zone()
        _response, body = await self._call("GetChanges", ackMessageNo=ack_message_no, maxItems=max_items)
        batch, errors = records.change_batch(body, tz)
        if errors:
            raise OneCRequestRejected(
                f"1C refused GetChanges ({', '.join(e.code for e in errors)})",
                codes=tuple(e.code for e in errors),
            )
        log.info("onec.changes", ack=ack_message_no, message_no=batch.message_no, items=len(batch.items))
        return batch

    async def submit_request(self, request: RequestSubmission) -> SubmitResult:
        tz = await self._zone()
        result = encode.submit_result(
            await self._call_zeep("SubmitRequest", **encode.submit_request_args(request, tz)),
            request.request_id,
        )
        log.info(
            "onec.request.submitted",
            request_id=request.request_id,
            kind=request.kind,
            status=result.status,
            errors=[e.code for e in result.errors],
        )
        return result

    async def withdraw_request(self, request_id: str, reason: str | None) -> WithdrawResult:
        await self._zone()
        result = encode.withdraw_result(
            await self._call_zeep("WithdrawRequest", requestId=request_id, reason=reason), request_id
        )
        log.info(
            "onec.request.withdrawn",
            request_id=request_id,
            status=result.status,
            errors=[e.code for e in result.errors],
        )
        return result

    async def submit_timesheet(self, timesheet: TimesheetSubmission) -> TimesheetResult:
        tz = await self._zone()
        result = encode.timesheet_result(
            await self._call_zeep("SubmitTimesheet", **encode.submit_timesheet_args(timesheet, tz)),
            timesheet.request_id,
        )
        log.info(
            "onec.timesheet.submitted",
            request_id=timesheet.request_id,
            status=result.status,
            conflicts=len(result.conflicts),
            errors=[e.code for e in result.errors],
        )
        return result

    async def work_schedule(
        self, employee_refs: Sequence[EmploymentRef], period_from: date, period_to: date
    ) -> dict[EmploymentRef, list[ScheduleDay]]:
        await self._zone()
        answer = await self._call_zeep(
            "GetWorkSchedule", **encode.work_schedule_args(employee_refs, period_from, period_to)
        )
        schedule, errors = encode.work_schedule(answer)
        if errors:
            raise OneCRequestRejected(
                f"1C refused GetWorkSchedule ({', '.join(e.code for e in errors)})",
                codes=tuple(e.code for e in errors),
            )
        return schedule

    async def document(self, request_id: str) -> DocumentStatus:
        await self._zone()
        status, errors = encode.document_status(
            await self._call_zeep("GetDocument", requestId=request_id), request_id
        )
        if errors:
            log.warning("onec.document.errors", request_id=request_id, errors=[e.code for e in errors])
        return status

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()
        self._wsdl_http.close()


def _endpoint_from_wsdl_url(source: str) -> str:
    if source.startswith(("http://", "https://")):
        return source.split("?", 1)[0]
    return ""
