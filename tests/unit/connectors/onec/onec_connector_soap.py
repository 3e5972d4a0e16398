# ruff: noqa: E501
"""Helpers for the 1C connector's unit tests: SOAP answers written the way 1C sends them."""

from __future__ import annotations

import httpx

from connectors.onec.contract import NAMESPACE

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ENDPOINT = "http://1c.test/zup/ws/ExtranetBridge.1cws"


def envelope(operation: str, inner: str, *, soap12: bool = False) -> str:
    ns = SOAP12 if soap12 else SOAP11
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{ns}"><soap:Body>'
        f'<m:{operation}Response xmlns:m="{NAMESPACE}" xmlns:xsi="{XSI}"><m:return>{inner}</m:return>'
        f"</m:{operation}Response></soap:Body></soap:Envelope>"
    )


def soap(operation: str, inner: str, *, soap12: bool = False, status: int = 200) -> httpx.Response:
    ctype = "application/soap+xml; charset=utf-8" if soap12 else "text/xml; charset=utf-8"
    return httpx.Response(
        status, text=envelope(operation, inner, soap12=soap12), headers={"Content-Type": ctype}
    )


def fault(reason: str, *, soap12: bool = False) -> httpx.Response:
    if soap12:
        body = (
            f'<soap:Envelope xmlns:soap="{SOAP12}"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Receiver'
            f'</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="ru">{reason}</soap:Text></soap:Reason>'
            "</soap:Fault></soap:Body></soap:Envelope>"
        )
        return httpx.Response(500, text=body, headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode>'
        f"<faultstring>{reason}</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    )
    return httpx.Response(500, text=body, headers={"Content-Type": "text/xml; charset=utf-8"})


def info(time_zone: str = "Europe/Moscow", *, soap12: bool = False) -> httpx.Response:
    return soap(
        "GetInfo",
        "<m:contractVersion>1.0</m:contractVersion><m:configName>ЗарплатаИУправлениеПерсоналом</m:configName>"
        "<m:configVersion>3.1.30</m:configVersion><m:serverTime>2026-11-23T23:00:00</m:serverTime>"
        f"<m:timeZone>{time_zone}</m:timeZone><m:nodeCode>EB1</m:nodeCode>",
        soap12=soap12,
    )


def operation_of(request: httpx.Request) -> str:
    action = str(request.headers.get("SOAPAction") or request.headers.get("content-type", ""))
    return action.rsplit(":", 1)[-1].strip('"')


def person(ref: str, last: str = "Иванова", *, extra: str = "") -> str:
    return (
        f"<m:item><m:person><m:ref>{ref}</m:ref><m:lastName>{last}</m:lastName><m:firstName>Анна</m:firstName>"
        f'<m:middleName xsi:nil="true"/><m:birthDate>1990-05-04T00:00:00</m:birthDate><m:gender>Female</m:gender>'
        f"<m:emails/><m:phones/><m:deleted>false</m:deleted>{extra}</m:person></m:item>"
    )


def page(entity: str, items: str, last_ref: str, has_more: bool) -> str:
    return (
        f"<m:entity>{entity}</m:entity><m:items>{items}</m:items><m:lastRef>{last_ref}</m:lastRef>"
        f'<m:hasMore>{"true" if has_more else "false"}</m:hasMore><m:errors xsi:nil="true"/>'
    )
