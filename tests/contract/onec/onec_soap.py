"""Helpers of the 1C contract tests: a plain httpx + lxml SOAP caller of the sandbox (no zeep)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from lxml import etree

from connectors.onec.contract import NAMESPACE, soap_action
from sandbox.onec.testing import RunningSandbox

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TODAY = date(2026, 3, 16)
Q = f"{{{NAMESPACE}}}"


def p(name: str, value: Any = None, nil: bool = False) -> str:
    """One parameter element (``e:`` = the service namespace); ``nil`` writes xsi:nil."""
    if nil or value is None:
        return f'<e:{name} xsi:nil="true"/>'
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<e:{name}>{value}</e:{name}>"


@dataclass
class Reply:
    status: int
    content_type: str
    text: str
    root: Any

    def ret(self) -> Any:
        """The ``return`` element of the response."""
        found = self.root.find(f".//{Q}return")
        assert found is not None, self.text[:500]
        return found

    def find(self, path: str) -> Any:
        return self.ret().find(path.replace("m:", Q))

    def findall(self, path: str) -> list[Any]:
        return list(self.ret().findall(path.replace("m:", Q)))

    def value(self, path: str) -> str | None:
        el = self.find(path)
        return None if el is None else (el.text or "")

    def errors(self) -> list[str]:
        return [e.findtext(f"{Q}code") or "" for e in self.findall("m:errors/m:item")]


class Soap:
    def __init__(self, sb: RunningSandbox) -> None:
        self.sb = sb
        self.http = httpx.Client(timeout=30)

    def envelope(self, operation: str, params: str, version: str = "1.1") -> str:
        ns = SOAP11 if version == "1.1" else SOAP12
        return (
            f'<soap:Envelope xmlns:soap="{ns}" xmlns:e="{NAMESPACE}" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Header/><soap:Body>'
            f"<e:{operation}>{params}</e:{operation}></soap:Body></soap:Envelope>"
        )

    def call(
        self,
        operation: str,
        params: str = "",
        version: str = "1.1",
        *,
        auth: Any = "default",
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if version == "1.1":
            hdrs = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{soap_action(operation)}"'}
        else:
            hdrs = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{soap_action(operation)}"'}
        hdrs.update(headers or {})
        response = self.http.post(
            self.sb.endpoint,
            content=(body or self.envelope(operation, params, version)).encode(),
            headers=hdrs,
            auth=self.sb.auth if auth == "default" else auth,
        )
        ctype = response.headers.get("content-type", "")
        root = etree.fromstring(response.content) if "xml" in ctype and response.content else None
        return Reply(response.status_code, ctype, response.text, root)
