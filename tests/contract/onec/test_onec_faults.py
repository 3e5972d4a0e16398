"""Infrastructure failures: SOAP faults in each version's shape, 1C's non-SOAP pages, drops, bad requests."""

from __future__ import annotations

import httpx
import pytest
from onec_soap import SOAP11, SOAP12, Soap, p

from sandbox.onec.testing import RunningSandbox

pytest_plugins = ["onec_fixtures"]


def test_soap_fault_11_shape(soap: Soap, sandbox: RunningSandbox) -> None:
    sandbox.knobs.fault("soap_fault", operations=["GetChanges"])
    reply = soap.call("GetChanges", p("ackMessageNo", 0) + p("maxItems", 10))
    assert reply.status == 500 and reply.content_type.startswith("text/xml")
    assert reply.root.findtext(f".//{{{SOAP11}}}Fault/faultcode") == "soap:Server"
    assert "Конфликт блокировок" in (reply.root.findtext(f".//{{{SOAP11}}}Fault/faultstring") or "")
    assert soap.call("GetChanges", p("ackMessageNo", 0) + p("maxItems", 10)).status == 200  # count=1: spent


def test_soap_fault_12_shape(soap: Soap, sandbox: RunningSandbox) -> None:
    sandbox.knobs.fault("soap_fault", message="Ошибка модуля")
    reply = soap.call("GetInfo", "", "1.2")
    assert reply.status == 500 and reply.content_type.startswith("application/soap+xml")
    fault = reply.root.find(f".//{{{SOAP12}}}Fault")
    assert fault.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value") == "soap:Receiver"
    assert fault.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text") == "Ошибка модуля"


@pytest.mark.parametrize(
    ("kind", "status", "ctype", "text"),
    [
        ("sessions_locked", 503, "text/plain", "Начало сеанса с информационной базой запрещено"),
        ("licence", 500, "text/html", "Не обнаружена свободная лицензия"),
        ("proxy_502", 502, "text/html", "Bad Gateway"),
        ("unauthorized", 401, "text/plain", "авторизация"),
    ],
)
def test_non_soap_errors(
    soap: Soap, sandbox: RunningSandbox, kind: str, status: int, ctype: str, text: str
) -> None:
    sandbox.knobs.fault(kind, count=2)
    for _ in range(2):
        reply = soap.call("GetInfo")
        assert reply.status == status and reply.content_type.startswith(ctype) and text in reply.text
    assert soap.call("GetInfo").status == 200


def test_fault_only_on_named_operations_until_cleared(soap: Soap, sandbox: RunningSandbox) -> None:
    sandbox.knobs.fault("sessions_locked", operations=["GetSnapshotPage"], count=None)
    assert soap.call("GetInfo").status == 200
    page = p("entity", "Position") + p("afterRef", nil=True) + p("pageSize", 10)
    assert soap.call("GetSnapshotPage", page).status == 503
    assert soap.call("GetSnapshotPage", page).status == 503
    sandbox.knobs.clear_faults()
    assert soap.call("GetSnapshotPage", page).status == 200
    assert sandbox.knobs.stats()["calls"]["GetSnapshotPage"] == 3


def test_dropped_connection(soap: Soap, sandbox: RunningSandbox) -> None:
    sandbox.knobs.fault("drop")
    with pytest.raises(httpx.TransportError):
        soap.call("GetInfo")
    assert soap.call("GetInfo").status == 200


def test_slow_reply_still_answers(soap: Soap, sandbox: RunningSandbox) -> None:
    sandbox.knobs.fault("slow", delay_seconds=0.2)
    assert soap.call("GetInfo").value("m:contractVersion") == "1.0"
    assert sandbox.knobs.get("faults") == []


def test_wsdl_fault(sandbox: RunningSandbox) -> None:
    sandbox.knobs.fault("sessions_locked", operations=["wsdl"])
    assert httpx.get(sandbox.wsdl_url, auth=sandbox.auth).status_code == 503
    assert httpx.get(sandbox.wsdl_url, auth=sandbox.auth).status_code == 200


def test_unknown_fault_kind_is_refused(sandbox: RunningSandbox) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.knobs.fault("meteor")


def test_protocol_errors(soap: Soap) -> None:
    # SOAP 1.1 envelope sent as SOAP 1.2: version mismatch, answered in the Content-Type's version
    mismatch = soap.call("GetInfo", body=soap.envelope("GetInfo", "", "1.1"), version="1.2")
    assert mismatch.status == 500
    assert mismatch.root.findtext(f".//{{{SOAP12}}}Value") == "soap:VersionMismatch"
    wrong_action = soap.call("GetInfo", headers={"SOAPAction": '"urn:other#Op"'})
    assert wrong_action.status == 500 and "SOAPAction" in wrong_action.text
    unknown = soap.call("GetInfo", body=soap.envelope("DropDatabase", ""), headers={"SOAPAction": ""})
    assert unknown.status == 500 and unknown.root.findtext(f".//{{{SOAP11}}}Fault/faultcode") == "soap:Client"
    broken = soap.call("GetInfo", body="<soap:Envelope")
    assert broken.status == 500 and "XML" in broken.text
    media = soap.call("GetInfo", headers={"Content-Type": "application/json"})
    assert media.status == 415
    assert soap.call("GetInfo", auth=None).status == 401
