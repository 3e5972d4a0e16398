"""The 1C sandbox as an ASGI app: the ExtranetBridge web service as 1C publishes it, plus the knobs.

Owns HTTP: Basic auth (UTF-8 credentials, as 1C accepts them; 401 without), the WSDL at ``?wsdl`` with
the internal address in soap:address, SOAP 1.1/1.2 dispatch with the right Content-Type both ways, the
fault profile, and the ``/_sandbox/…`` JSON routes (optionally behind ``X-Sandbox-Token``).
A bare ASGI callable, not a framework app: the snapshot of 50,000 employees should cost little here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from connectors.onec.contract import ADVERTISED_ADDRESS, WSDL_PATH
from sandbox.onec import faults, reads, requests, soap, timesheets
from sandbox.onec.knobs import handle as handle_knob
from sandbox.onec.render import envelope
from sandbox.onec.state import SandboxConfig, SandboxState

log = logging.getLogger(__name__)
SERVICE_PATHS = ("/zup/ws/ExtranetBridge.1cws", "/zup/ws/ExtranetBridge")
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Operation = Callable[[SandboxState, dict[str, Any]], str]

OPERATIONS: dict[str, Operation] = {
    "GetInfo": reads.get_info,
    "GetSnapshotPage": reads.get_snapshot_page,
    "GetChanges": reads.get_changes,
    "SubmitRequest": requests.submit_request,
    "SubmitTimesheet": timesheets.submit_timesheet,
    "GetWorkSchedule": timesheets.work_schedule,
    "GetDocument": requests.get_document,
    "WithdrawRequest": requests.withdraw_request,
}


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(
    send: Send, status: int, body: bytes, content_type: str, extra: list[Any] | None = None
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


class OneCSandboxApp:
    def __init__(self, config: SandboxConfig) -> None:
        self.state = SandboxState(config)
        self._wsdl = WSDL_PATH.read_text(encoding="utf-8")

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        if path.startswith("/_sandbox/"):
            await self._knob(scope, headers, receive, send)
        elif path in SERVICE_PATHS:
            await self._service(scope, headers, receive, send)
        else:
            await _reply(send, 404, b"Not Found", "text/plain; charset=utf-8")

    # ---- the web service ------------------------------------------------------------------------------

    def _authorized(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return False
        try:
            raw = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = raw.partition(":")
        return user == self.state.config.user and password == self.state.config.password

    async def _service(
        self, scope: dict[str, Any], headers: dict[str, str], receive: Receive, send: Send
    ) -> None:
        if not self._authorized(headers):
            await _body(receive)
            await _reply(
                send, 401, "Требуется авторизация".encode(), "text/plain; charset=utf-8",
                [(b"www-authenticate", b'Basic realm="1C:Enterprise"')],
            )  # fmt: skip
            return
        query = scope.get("query_string", b"").decode("latin-1").lower()
        if scope["method"] == "GET" and query.split("&")[0] == "wsdl":
            await self._serve_wsdl(scope, headers, send)
            return
        if scope["method"] != "POST":
            await _reply(send, 405, b"Method Not Allowed", "text/plain; charset=utf-8")
            return
        body = await _body(receive)
        content_type = headers.get("content-type", "")
        try:
            version = soap.version_of(content_type)
        except soap.HttpError as exc:
            await _reply(send, exc.status, exc.body.encode(), exc.content_type)
            return
        try:
            request = soap.parse(body, content_type, headers.get("soapaction"))
        except soap.SoapFault as exc:
            await _reply(send, 500, soap.fault(version, exc.code, exc.message), soap.CONTENT_TYPE[version])
            return
        state = self.state
        state.calls[request.operation] = state.calls.get(request.operation, 0) + 1
        fault = state.faults.take(request.operation)
        if fault is not None and await self._fault(fault, version, send):
            return
        try:
            requests.review_due(state)
            inner = OPERATIONS[request.operation](state, request.params)
        except Exception:  # an exception in the 1C module becomes a SOAP fault with a Russian text
            log.exception("sandbox operation failed: %s", request.operation)
            message = f"Ошибка при вызове метода контекста ({request.operation}): внутренняя ошибка песочницы"
            await _reply(send, 500, soap.fault(version, "Server", message), soap.CONTENT_TYPE[version])
            return
        await _reply(
            send, 200, envelope(request.soap_ns, request.operation, inner), soap.CONTENT_TYPE[version]
        )

    async def _serve_wsdl(self, scope: dict[str, Any], headers: dict[str, str], send: Send) -> None:
        fault = next((f for f in self.state.faults.faults if f.operations and "wsdl" in f.operations), None)
        if fault is not None:
            self.state.faults.take("wsdl")
            if await self._fault(fault, "1.1", send):
                return
        address = self.state.config.advertised_address
        if address == "echo":  # what 1C really does: echo the host and path the WSDL was fetched with
            address = f"{scope.get('scheme', 'http')}://{headers.get('host', 'localhost')}{scope['path']}"
        text = self._wsdl.replace(f'location="{ADVERTISED_ADDRESS}"', f'location="{address}"')
        await _reply(send, 200, text.encode("utf-8"), "text/xml; charset=utf-8")

    async def _fault(self, fault: faults.Fault, version: str, send: Send) -> bool:
        """Apply a fault; True when it answered (or dropped) the call, False for "slow" (carry on)."""
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_seconds)
            return False
        if fault.kind == "drop":
            headers = [(b"content-type", soap.CONTENT_TYPE[version].encode()), (b"content-length", b"4096")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"<soap:Envelope", "more_body": True})
            return True  # the server closes a response it never completed: the client sees a broken reply
        if fault.kind == "soap_fault":
            body = soap.fault(version, "Server", fault.message or faults.DEFAULT_FAULTSTRING)
            await _reply(send, 500, body, soap.CONTENT_TYPE[version])
        elif fault.kind == "sessions_locked":
            await _reply(
                send, 503, (fault.message or faults.SESSIONS_LOCKED).encode(), "text/plain; charset=utf-8"
            )
        elif fault.kind == "licence":
            await _reply(
                send, 500, (fault.message or faults.LICENCE_PAGE).encode(), "text/html; charset=utf-8"
            )
        elif fault.kind == "proxy_502":
            await _reply(send, 502, faults.PROXY_502.encode(), "text/html")
        elif fault.kind == "unauthorized":
            await _reply(send, 401, "Требуется авторизация".encode(), "text/plain; charset=utf-8")
        return True

    # ---- the knobs ------------------------------------------------------------------------------------

    async def _knob(
        self, scope: dict[str, Any], headers: dict[str, str], receive: Receive, send: Send
    ) -> None:
        body = await _body(receive)
        token = self.state.config.knob_token
        if token and headers.get("x-sandbox-token") != token:
            await _reply(send, 403, b'{"error": "knob token required"}', "application/json")
            return
        payload: dict[str, Any] = dict(parse_qsl(scope.get("query_string", b"").decode()))
        if body:
            try:
                loaded = json.loads(body)
            except ValueError:
                await _reply(send, 400, b'{"error": "body is not JSON"}', "application/json")
                return
            if isinstance(loaded, dict):
                payload.update(loaded)
        status, result = handle_knob(self.state, scope["method"], scope["path"][len("/_sandbox/") :], payload)
        await _reply(
            send, status, json.dumps(result, ensure_ascii=False).encode(), "application/json; charset=utf-8"
        )


def create_app(config: SandboxConfig | None = None) -> OneCSandboxApp:
    return OneCSandboxApp(config or SandboxConfig())
