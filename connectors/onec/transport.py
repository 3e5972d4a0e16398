"""HTTP for the 1C connector: httpx clients with explicit timeouts and Basic auth, zeep's transport on top,
and the check of every answer before anything parses it.

Basic credentials are encoded as UTF-8 bytes, which is what the 1C web extension decodes (logins are
often Cyrillic; ``requests`` would send latin-1 and fail). zeep's AsyncTransport overwrites the headers
of the clients it is given, so auth goes through ``httpx.BasicAuth``, never a header (zeep #1175). Our
subclass never logs envelopes (zeep's logs whole bodies at DEBUG); ``zeep.transports`` is also kept
above DEBUG in case anything else logs there.

``check_response`` turns what comes back into either the XML body of a normal answer or a typed error:
non-SOAP pages of the web server or the cluster (sessions locked, no licence, 5xx) are classified from
their status and text and never reach an XML parser; SOAP faults are classified from their faultstring.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from lxml import etree
from zeep.transports import AsyncTransport

from connectors.onec.errors import (
    OneCAuthError,
    OneCFault,
    OneCHttpError,
    OneCProtocolError,
    OneCTimeout,
    OneCTransportError,
    OneCUnavailable,
    classify_text,
)

USER_AGENT = "extranet-bridge-onec/1"
_FAULT_PATHS = (
    ("http://schemas.xmlsoap.org/soap/envelope/", "faultcode", "faultstring"),
    ("http://www.w3.org/2003/05/soap-envelope", "Code", "Reason"),
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def basic_auth(username: str, password: str) -> httpx.BasicAuth | None:
    """Basic credentials encoded as UTF-8 (Cyrillic 1C logins included); None without a login."""
    if not username:
        return None
    return httpx.BasicAuth(username.encode("utf-8"), password.encode("utf-8"))


def timeouts(connect: float, read: float) -> httpx.Timeout:
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def make_http_client(
    *, auth: httpx.BasicAuth | None, connect_timeout: float, read_timeout: float
) -> httpx.AsyncClient:
    """One keep-alive connection pool with a cookie jar (1C's session reuse rides on a cookie)."""
    return httpx.AsyncClient(
        auth=auth,
        timeout=timeouts(connect_timeout, read_timeout),
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


class BridgeTransport(AsyncTransport):
    """zeep's AsyncTransport without envelope logging and without clobbering the clients we pass."""

    def __init__(self, client: httpx.AsyncClient, wsdl_client: httpx.Client) -> None:
        self._close_session = False
        self.cache = None
        self.load_timeout = wsdl_client.timeout.read
        self.operation_timeout = client.timeout.read
        self.client = client
        self.wsdl_client = wsdl_client
        self.logger = logging.getLogger("connectors.onec.transport")
        quiet = logging.getLogger("zeep.transports")
        if quiet.getEffectiveLevel() <= logging.DEBUG:
            quiet.setLevel(logging.INFO)

    async def post(self, address: str, message: Any, headers: dict[str, str]) -> httpx.Response:
        try:
            return await self.client.post(address, content=message, headers=headers)
        except httpx.TimeoutException as exc:
            raise OneCTimeout(f"1C did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise OneCTransportError(f"the HTTP exchange with 1C failed ({type(exc).__name__})") from exc

    def __del__(self) -> None:  # zeep's closes a session we do not own
        return None


def _fault(body: bytes) -> tuple[str | None, str] | None:
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError:
        return None
    for ns, code_tag, reason_tag in _FAULT_PATHS:
        fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
        if fault is None:
            continue
        if ns.endswith("soap-envelope"):  # SOAP 1.2: Code/Value, Reason/Text
            code = fault.findtext(f"{{{ns}}}{code_tag}/{{{ns}}}Value")
            reason = fault.findtext(f"{{{ns}}}{reason_tag}/{{{ns}}}Text") or ""
        else:
            code = fault.findtext(code_tag)
            reason = fault.findtext(reason_tag) or ""
        return code, reason
    return None


def _looks_like_xml(response: Any) -> bool:
    ctype = response.headers.get("Content-Type", "").lower()
    return "xml" in ctype or response.content[:200].lstrip().startswith(
        (b"<?xml", b"<soap", b"<SOAP", b"<s:")
    )


def check_response(response: Any, operation: str) -> bytes:
    """The body of a 200 SOAP answer, or the typed error that the status, page or fault describes."""
    status = int(response.status_code)
    body: bytes = response.content or b""
    if status == 200 and _looks_like_xml(response):
        fault = _fault(body) if b"Fault" in body[:2000] else None
        if fault is None:
            return body
    fault = _fault(body) if body and _looks_like_xml(response) else None
    if fault is not None:
        code, reason = fault
        transient = classify_text(reason, status)
        if transient is not None:
            raise transient
        raise OneCFault(
            f"1C raised an error in {operation} (SOAP fault {code or 'unknown'})",
            code=code,
            internal=reason[:500],
        )
    page = body[:4000].decode("utf-8", "replace")
    transient = classify_text(page, status)
    if transient is not None:
        raise transient
    if status in (401, 403):
        raise OneCAuthError(f"1C refused the credentials for {operation} (HTTP {status})", status=status)
    if status in (429, 500, 502, 503, 504):
        raise OneCUnavailable(f"1C is unavailable for {operation} (HTTP {status})", status=status)
    if status == 200:
        raise OneCProtocolError(f"1C answered {operation} with a body that is not SOAP")
    raise OneCHttpError(f"1C answered {operation} with HTTP {status}", status=status)
