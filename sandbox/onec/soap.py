"""SOAP 1.1 / 1.2 envelopes of the sandbox: parsing requests with lxml and writing faults.

Owns version detection (Content-Type and envelope namespace must agree), the SOAPAction check
(``<ns>#ExtranetBridge:<Op>``; SOAP 1.2 carries it as the ``action`` parameter of the Content-Type),
the typed reading of parameters (nil, empty date, empty ref) and the two fault shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from connectors.onec.contract import EMPTY_REF, NAMESPACE, OPERATIONS, soap_action
from sandbox.onec.render import SOAP11, SOAP12, XSI, esc

CONTENT_TYPE = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)
_NIL = f"{{{XSI}}}nil"
_Q = f"{{{NAMESPACE}}}"


class SoapFault(Exception):
    """Rendered as a SOAP fault of the request's version; ``code`` is Client, Server or VersionMismatch."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class HttpError(Exception):
    """A non-SOAP reply (status, content type, body): what the web server or 1C cluster sends itself."""

    def __init__(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
        super().__init__(f"{status}")
        self.status, self.body, self.content_type = status, body, content_type


class BadParam(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class SoapRequest:
    version: str
    operation: str
    params: dict[str, Any]
    """Parameter name → element (None when nil or absent)."""

    @property
    def soap_ns(self) -> str:
        return SOAP11 if self.version == "1.1" else SOAP12


def version_of(content_type: str) -> str:
    main = content_type.split(";", 1)[0].strip().lower()
    if main == "text/xml":
        return "1.1"
    if main == "application/soap+xml":
        return "1.2"
    raise HttpError(415, "Unsupported Media Type")


def _action_of(content_type: str, header: str | None, version: str) -> str | None:
    if version == "1.1":
        return header.strip().strip('"') if header is not None else None
    m = re.search(r'action\s*=\s*"?([^";]+)"?', content_type)
    return m.group(1) if m else None


def parse(body: bytes, content_type: str, soap_action_header: str | None) -> SoapRequest:
    version = version_of(content_type)
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", f"Ошибка разбора XML: {exc.msg}") from None
    expected_ns = SOAP11 if version == "1.1" else SOAP12
    if root.tag not in (f"{{{SOAP11}}}Envelope", f"{{{SOAP12}}}Envelope"):
        raise SoapFault("Client", "Ожидается элемент Envelope")
    if root.tag != f"{{{expected_ns}}}Envelope":
        raise SoapFault("VersionMismatch", "Версия SOAP конверта не соответствует типу содержимого")
    body_el = root.find(f"{{{expected_ns}}}Body")
    wrapper = None if body_el is None else next((c for c in body_el if isinstance(c.tag, str)), None)
    if wrapper is None:
        raise SoapFault("Client", "Пустое тело SOAP сообщения")
    qname = etree.QName(wrapper)
    if qname.namespace != NAMESPACE or qname.localname not in OPERATIONS:
        raise SoapFault("Client", f"Операция {qname.localname} не найдена в веб-сервисе ExtranetBridge")
    action = _action_of(content_type, soap_action_header, version)
    if action and action != soap_action(qname.localname):
        raise SoapFault("Client", f"SOAPAction {action} не соответствует операции {qname.localname}")
    params: dict[str, Any] = {}
    for child in wrapper:
        if isinstance(child.tag, str) and child.tag.startswith(_Q):
            params[child.tag[len(_Q) :]] = None if child.get(_NIL) in ("true", "1") else child
    return SoapRequest(version, qname.localname, params)


def fault(version: str, code: str, message: str) -> bytes:
    if version == "1.1":
        return (
            f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><soap:Fault><faultcode>soap:{code}</faultcode>'
            f"<faultstring>{esc(message)}</faultstring></soap:Fault></soap:Body></soap:Envelope>"
        ).encode()
    code12 = {"Client": "Sender", "Server": "Receiver"}.get(code, code)
    return (
        f'<soap:Envelope xmlns:soap="{SOAP12}"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:{code12}'
        f'</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="ru">{esc(message)}</soap:Text>'
        f"</soap:Reason>"
        f"</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


# ---- typed parameter readers -------------------------------------------------------------------------


def text(el: Any) -> str | None:
    if el is None:
        return None
    return (el.text or "").strip()


def child(el: Any, name: str) -> Any:
    if el is None:
        return None
    found = el.find(_Q + name)
    if found is None or found.get(_NIL) in ("true", "1"):
        return None
    return found


def items(el: Any) -> list[Any]:
    return [] if el is None else el.findall(_Q + "item")


def guid(el: Any, field: str) -> str | None:
    value = text(el)
    if not value or value == EMPTY_REF:
        return None
    if not _GUID.match(value):
        raise BadParam(field, f"Не является уникальным идентификатором: {value[:40]}")
    return value.lower()


def day(el: Any, field: str) -> date | None:
    value = text(el)
    if not value or value.startswith("0001-01-01"):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise BadParam(field, f"Неверный формат даты: {value[:40]}") from None


def integer(el: Any, field: str, default: int) -> int:
    value = text(el)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadParam(field, f"Неверное число: {value[:40]}") from None


def decimal(el: Any, field: str) -> Decimal:
    try:
        return Decimal(text(el) or "0")
    except InvalidOperation:
        raise BadParam(field, "Неверное число") from None
