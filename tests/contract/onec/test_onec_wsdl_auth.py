"""The WSDL as 1C serves it: behind Basic auth (UTF-8 logins), internal soap:address, 1C's shape."""

from __future__ import annotations

import base64

import httpx
from lxml import etree

from connectors.onec.contract import ADVERTISED_ADDRESS, NAMESPACE, OPERATIONS, WSDL_PATH, soap_action
from sandbox.onec.testing import RunningSandbox, onec_sandbox

pytest_plugins = ["onec_fixtures"]

WSDL = "http://schemas.xmlsoap.org/wsdl/"


def test_wsdl_needs_auth(shared_sandbox: RunningSandbox) -> None:
    assert httpx.get(shared_sandbox.wsdl_url).status_code == 401
    wrong = httpx.get(shared_sandbox.wsdl_url, auth=(shared_sandbox.user, "wrong"))
    assert wrong.status_code == 401
    assert "Basic" in wrong.headers["www-authenticate"]


def test_cyrillic_login_in_utf8_is_accepted(shared_sandbox: RunningSandbox) -> None:
    assert not shared_sandbox.user.isascii()
    token = base64.b64encode(f"{shared_sandbox.user}:{shared_sandbox.password}".encode()).decode()
    response = httpx.get(shared_sandbox.wsdl_url, headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200
    latin1 = base64.b64encode(f"{shared_sandbox.user}:x".encode("cp1251")).decode()
    assert httpx.get(shared_sandbox.wsdl_url, headers={"Authorization": f"Basic {latin1}"}).status_code == 401


def test_served_wsdl_advertises_the_internal_address(shared_sandbox: RunningSandbox) -> None:
    response = httpx.get(shared_sandbox.wsdl_url, auth=shared_sandbox.auth)
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    locations = [el.get("location") for el in root.iter() if etree.QName(el).localname == "address"]
    assert locations == [ADVERTISED_ADDRESS, ADVERTISED_ADDRESS]
    assert "127.0.0.1" not in response.text


def test_wsdl_has_1c_shape() -> None:
    root = etree.parse(str(WSDL_PATH)).getroot()
    assert root.get("targetNamespace") == NAMESPACE and root.get("name") == "ExtranetBridge"
    bindings = root.findall(f"{{{WSDL}}}binding")
    assert [b.get("name") for b in bindings] == ["ExtranetBridgeSoapBinding", "ExtranetBridgeSoap12Binding"]
    ports = root.findall(f"{{{WSDL}}}service/{{{WSDL}}}port")
    assert [p.get("name") for p in ports] == ["ExtranetBridgeSoap", "ExtranetBridgeSoap12"]
    for binding in bindings:
        actions = [el.get("soapAction") for el in binding.iter() if el.get("soapAction")]
        assert actions == [soap_action(op) for op in OPERATIONS]
    messages = {m.get("name") for m in root.findall(f"{{{WSDL}}}message")}
    assert {f"{op}{kind}Message" for op in OPERATIONS for kind in ("Request", "Response")} == messages
    xs = "{http://www.w3.org/2001/XMLSchema}"
    schema = root.find(f"{{{WSDL}}}types/{xs}schema")
    assert schema is not None
    assert schema.findall(f".//{xs}all") == [] and schema.findall(f".//{xs}any") == []
    for op in OPERATIONS:
        response = schema.find(f"{xs}element[@name='{op}Response']")
        assert response is not None
        (ret,) = response.findall(f".//{xs}element")
        assert ret.get("name") == "return" and ret.get("nillable") == "true"
        request = schema.find(f"{xs}element[@name='{op}']")
        assert request is not None
        assert all(e.get("nillable") == "true" for e in request.findall(f".//{xs}element"))


def test_echo_mode_reflects_the_request_url() -> None:
    with onec_sandbox(employees=20, advertised_address="echo") as sb:
        text = httpx.get(sb.wsdl_url, auth=sb.auth).text
        assert f'location="{sb.endpoint}"' in text


def test_alias_path_and_unknown_path(shared_sandbox: RunningSandbox) -> None:
    alias = f"{shared_sandbox.base_url}/zup/ws/ExtranetBridge?wsdl"
    assert httpx.get(alias, auth=shared_sandbox.auth).status_code == 200
    assert (
        httpx.get(f"{shared_sandbox.base_url}/zup/ws/Other?wsdl", auth=shared_sandbox.auth).status_code == 404
    )
