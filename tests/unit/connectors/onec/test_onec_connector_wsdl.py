# ruff: noqa: E501
"""The WSDL loader: the real 1C WSDLs load (one only after repair), unknown defects fail with one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from zeep.transports import Transport

from connectors.onec.contract import WSDL_PATH
from connectors.onec.errors import WsdlDefectError
from connectors.onec.wsdl import LoadedWsdl, load_wsdl, pick_port, repair_wsdl

REAL = ("aplix-PackingLine.1cws.wsdl", "rarus-vfc_webservices.wsdl", "zup-PersonsData.wsdl")


def _real(shared_dir: Path, name: str) -> bytes:
    return (shared_dir / "realworld" / "onec-wsdl" / name).read_bytes()


def _load(content: bytes, source: str = "test.wsdl") -> LoadedWsdl:
    return load_wsdl(content, transport=Transport(), source=source)  # type: ignore[no-untyped-call]


def tiny_wsdl(types: str, *, soap12: bool = True, extra_ns: str = "") -> bytes:
    """A minimal service in 1C's layout around the given schema body (namespace urn:t)."""
    port12 = (
        '<port name="TSoap12" binding="tns:TSoap12Binding"><soap12bind:address location="http://x/ws/T"/></port>'
        if soap12
        else ""
    )
    binding12 = (
        '<binding name="TSoap12Binding" type="tns:TPortType"><soap12bind:binding style="document" '
        'transport="http://schemas.xmlsoap.org/soap/http"/><operation name="Op"><soap12bind:operation '
        'style="document" soapAction="urn:t#T:Op"/><input><soap12bind:body use="literal"/></input><output>'
        '<soap12bind:body use="literal"/></output></operation></binding>'
        if soap12
        else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12bind="http://schemas.xmlsoap.org/wsdl/soap12/"
 xmlns:soapbind="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tns="urn:t" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 name="T" targetNamespace="urn:t">
<types><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:t" {extra_ns} targetNamespace="urn:t"
 attributeFormDefault="unqualified" elementFormDefault="qualified">{types}
<xs:element name="Op"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
<xs:element name="OpResponse"><xs:complexType><xs:sequence><xs:element name="return" type="tns:R" nillable="true"/>
</xs:sequence></xs:complexType></xs:element></xs:schema></types>
<message name="OpRequestMessage"><part name="parameters" element="tns:Op"/></message>
<message name="OpResponseMessage"><part name="parameters" element="tns:OpResponse"/></message>
<portType name="TPortType"><operation name="Op"><input message="tns:OpRequestMessage"/>
<output message="tns:OpResponseMessage"/></operation></portType>
<binding name="TSoapBinding" type="tns:TPortType"><soapbind:binding style="document"
 transport="http://schemas.xmlsoap.org/soap/http"/><operation name="Op"><soapbind:operation style="document"
 soapAction="urn:t#T:Op"/><input><soapbind:body use="literal"/></input><output><soapbind:body use="literal"/>
</output></operation></binding>{binding12}
<service name="T"><port name="TSoap" binding="tns:TSoapBinding"><soapbind:address location="http://x/ws/T"/></port>
{port12}</service></definitions>""".encode()


@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_real_1c_wsdls_load_and_bind_either_port(shared_dir: Path, name: str, version: str) -> None:
    loaded = _load(_real(shared_dir, name), source=name)
    port, binding, advertised = pick_port(loaded.document, version)  # type: ignore[arg-type]
    assert port.endswith("Soap12" if version == "1.2" else "Soap")
    assert binding._operations
    assert advertised.startswith("http")


def test_only_the_rarus_wsdl_needs_repairs(shared_dir: Path) -> None:
    repairs = {name: _load(_real(shared_dir, name)).repairs for name in REAL}
    assert repairs["aplix-PackingLine.1cws.wsdl"] == ()
    assert repairs["zup-PersonsData.wsdl"] == ()
    rarus = " | ".join(repairs["rarus-vfc_webservices.wsdl"])
    assert "xs:any inside xs:all" in rarus
    assert "base xs:complexType" in rarus


def test_repaired_rarus_type_still_reads_an_answer_with_open_content(shared_dir: Path) -> None:
    loaded = _load(_real(shared_dir, "rarus-vfc_webservices.wsdl"))
    response_type = loaded.document.types.get_type("{http://tempuri.org/}Response")
    node = etree.fromstring(
        b'<r xmlns:t="http://tempuri.org/"><ReturnCode>0</ReturnCode><ReturnValue>ok</ReturnValue>'
        b"<t:Extra>1</t:Extra></r>"
    )
    value = response_type.parse_xmlelement(node, loaded.document.types)
    assert value.ReturnCode == 0
    assert value.ReturnValue == "ok"


def test_the_shipped_contract_loads_without_repairs() -> None:
    loaded = _load(WSDL_PATH.read_bytes())
    assert loaded.repairs == ()
    assert pick_port(loaded.document, "1.2")[0] == "ExtranetBridgeSoap12"


def test_a_type_from_a_package_1c_did_not_inline_is_named() -> None:
    wsdl = tiny_wsdl(
        '<xs:import namespace="http://v8.1c.ru/8.1/data/core"/>'
        '<xs:complexType name="R"><xs:sequence><xs:element name="Data" type="v8:ValueStorage"/>'
        "</xs:sequence></xs:complexType>",
        extra_ns='xmlns:v8="http://v8.1c.ru/8.1/data/core"',
    )
    with pytest.raises(WsdlDefectError) as caught:
        _load(wsdl)
    assert caught.value.defect == "unresolved-type"
    assert "{http://v8.1c.ru/8.1/data/core}ValueStorage" in str(caught.value)


def test_an_unknown_schema_defect_fails_with_a_wsdl_error_not_an_assertion() -> None:
    # xs:choice inside xs:all is invalid XSD; zeep asserts on it, and this is not a repair we make.
    wsdl = tiny_wsdl(
        '<xs:complexType name="R"><xs:all><xs:element name="a" type="xs:string"/><xs:choice>'
        '<xs:element name="b" type="xs:string"/></xs:choice></xs:all></xs:complexType>'
    )
    with pytest.raises(WsdlDefectError) as caught:
        _load(wsdl)
    assert caught.value.defect == "unsupported-schema"


def test_bom_is_dropped_and_non_xml_is_named() -> None:
    wsdl = tiny_wsdl('<xs:complexType name="R"><xs:sequence/></xs:complexType>')
    fixed, repairs = repair_wsdl(b"\xef\xbb\xbf" + wsdl)
    assert not fixed.startswith(b"\xef\xbb\xbf")
    assert repairs == ()
    with pytest.raises(WsdlDefectError) as caught:
        repair_wsdl(b"<html><body>503 Service Unavailable</body>")
    assert caught.value.defect in ("not-xml", "not-wsdl")


def test_a_missing_soap12_port_is_a_clear_error() -> None:
    loaded = _load(tiny_wsdl('<xs:complexType name="R"><xs:sequence/></xs:complexType>', soap12=False))
    assert pick_port(loaded.document, "1.1")[0] == "TSoap"
    with pytest.raises(WsdlDefectError) as caught:
        pick_port(loaded.document, "1.2")
    assert caught.value.defect == "no-port"


def test_references_to_the_xml_namespace_are_not_flagged() -> None:
    wsdl = tiny_wsdl(
        '<xs:import namespace="http://www.w3.org/XML/1998/namespace"/>'
        '<xs:complexType name="R"><xs:sequence><xs:element name="t" type="xs:string"/></xs:sequence>'
        '<xs:attribute ref="xml:lang"/></xs:complexType>'
    )
    _fixed, repairs = repair_wsdl(wsdl)
    assert repairs == ()
    with pytest.raises(WsdlDefectError) as caught:  # zeep would fetch xml.xsd from w3.org: refused, named
        _load(wsdl)
    assert caught.value.defect == "external-schema"
