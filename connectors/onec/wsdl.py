"""Reading a 1C-generated WSDL into a zeep Document: known 1C schema defects repaired, the rest named.

1C:Enterprise emits schema patterns zeep 4.3 cannot read (onec-zup.md §0.2, §1.3):

- ``xs:any`` inside ``xs:all`` (an "open" XDTO type that is also unordered): zeep stops with an
  AssertionError. Repair: the ``xs:all`` becomes an ``xs:sequence`` that keeps the wildcard last.
- ``complexContent/extension base="xs:complexType"`` (or another schema keyword used as a base type):
  zeep fails with ``LookupError: Unable to resolve type …complexType``. Repair: the base becomes
  ``xs:anyType``.
- a UTF-8 byte-order mark (WSDLs saved from a Designer dump): removed.

Everything else that zeep cannot read fails here with one WsdlDefectError naming the defect, never a
bare AssertionError: in particular a type whose XDTO package 1C imported without a schemaLocation and
did not inline (the ``http://v8.1c.ru/8.1/data/core`` package is the usual one). The repairs applied
are returned (and logged by the caller): a WSDL carries no personal data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree
from zeep.exceptions import ExternalReferenceForbidden
from zeep.settings import Settings
from zeep.wsdl import Document
from zeep.wsdl.bindings.soap import Soap11Binding, Soap12Binding
from zeep.xsd.types.builtins import default_types

from connectors.onec.errors import WsdlDefectError
from core.redact import redact_text

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
_KNOWN_NAMESPACES = frozenset({"http://www.w3.org/XML/1998/namespace"})  # xml:lang and friends
_BOM = b"\xef\xbb\xbf"
_XS_BUILTINS = frozenset(str(qname).rpartition("}")[2] for qname in default_types)
_XS_NOT_TYPES = frozenset(
    {"complexType", "simpleType", "all", "sequence", "choice", "element", "any", "group"}
)
_GLOBAL_KINDS = ("complexType", "simpleType", "element", "attribute", "group", "attributeGroup")
_REF_ATTRS = ("type", "base", "ref", "itemType")


@dataclass(frozen=True)
class LoadedWsdl:
    document: Any
    """The zeep ``Document`` (typed Any: zeep ships no type hints)."""
    repairs: tuple[str, ...]
    source: str


def _qname(node: etree._Element, value: str) -> tuple[str | None, str]:
    prefix, _, local = value.rpartition(":")
    if prefix == "xml":  # bound by definition, never declared
        return "http://www.w3.org/XML/1998/namespace", local
    return node.nsmap.get(prefix or None), local


def _owner_name(node: etree._Element) -> str:
    for ancestor in node.iterancestors():
        name = ancestor.get("name")
        if name and ancestor.tag in (f"{{{XS}}}complexType", f"{{{XS}}}element"):
            return str(name)
    return "<anonymous>"


def _repair_all_with_any(root: etree._Element) -> list[str]:
    repairs = []
    for node in list(root.iter(f"{{{XS}}}all")):
        wildcards = [child for child in node if child.tag == f"{{{XS}}}any"]
        if not wildcards:
            continue
        node.tag = f"{{{XS}}}sequence"
        for wildcard in wildcards:  # a wildcard may only end a sequence that zeep can read
            node.remove(wildcard)
            node.append(wildcard)
        repairs.append(f"xs:any inside xs:all in type {_owner_name(node)!r}: xs:all read as xs:sequence")
    return repairs


def _repair_keyword_bases(root: etree._Element) -> list[str]:
    repairs = []
    for tag in ("extension", "restriction"):
        for node in root.iter(f"{{{XS}}}{tag}"):
            base = node.get("base")
            if not base:
                continue
            namespace, local = _qname(node, base)
            if namespace == XS and local in _XS_NOT_TYPES:
                prefix = base.rpartition(":")[0]
                node.set("base", f"{prefix}:anyType" if prefix else "anyType")
                repairs.append(f"{tag} base xs:{local} in type {_owner_name(node)!r}: read as xs:anyType")
    return repairs


def _declared(root: etree._Element) -> tuple[dict[str, set[tuple[str, str]]], set[str]]:
    """Global names per target namespace, and the namespaces imported with a schemaLocation."""
    names: dict[str, set[tuple[str, str]]] = {}
    located: set[str] = set()
    for schema in root.iter(f"{{{XS}}}schema"):
        target = schema.get("targetNamespace", "")
        bucket = names.setdefault(target, set())
        for child in schema:
            if not isinstance(child.tag, str):
                continue
            kind = etree.QName(child).localname
            if kind in _GLOBAL_KINDS and child.get("name"):
                bucket.add((kind, child.get("name", "")))
            if kind in ("import", "include") and child.get("schemaLocation"):
                located.add(child.get("namespace", target))
    return names, located


def _unresolved(root: etree._Element) -> list[str]:
    names, located = _declared(root)
    missing: list[str] = []
    for schema in root.iter(f"{{{XS}}}schema"):
        for node in schema.iter():
            if not isinstance(node.tag, str):
                continue
            for attr in _REF_ATTRS:
                value = node.get(attr)
                if not value:
                    continue
                namespace, local = _qname(node, value)
                if namespace == XS:
                    if local not in _XS_BUILTINS:
                        missing.append(f"xs:{local}")
                    continue
                if namespace in located or namespace in _KNOWN_NAMESPACES:
                    continue
                declared = {name for _kind, name in names.get(namespace or "", set())}
                if local not in declared:
                    where = "no schema for that namespace" if namespace not in names else "not declared"
                    missing.append(f"{{{namespace}}}{local} ({where})")
    return sorted(set(missing))


def repair_wsdl(content: bytes) -> tuple[bytes, tuple[str, ...]]:
    """Apply the known 1C repairs; returns the bytes to give zeep and what was changed."""
    if content.startswith(_BOM):
        content = content[len(_BOM) :]
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise WsdlDefectError(
            f"the WSDL is not well-formed XML (line {exc.lineno})", defect="not-xml", internal=str(exc)
        ) from exc
    if root.tag != f"{{{WSDL}}}definitions":
        raise WsdlDefectError(
            f"not a WSDL 1.1 document (root element {etree.QName(root).localname!r})", defect="not-wsdl"
        )
    repairs = _repair_all_with_any(root) + _repair_keyword_bases(root)
    missing = _unresolved(root)
    if missing:
        raise WsdlDefectError(
            "the WSDL refers to types no schema in it defines: "
            + ", ".join(missing[:5])
            + (" …" if len(missing) > 5 else "")
            + " (1C imports XDTO packages without schemaLocation; publish the service so that its WSDL "
            "inlines them, or give the bridge a WSDL file that does)",
            defect="unresolved-type",
        )
    if not repairs:
        return content, ()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), tuple(repairs)


def load_wsdl(
    content: bytes, *, transport: Any, source: str, strict: bool = True, settings: Settings | None = None
) -> LoadedWsdl:
    """Repair and parse ``content`` (the WSDL bytes fetched from ``source``) into a zeep Document."""
    fixed, repairs = repair_wsdl(content)
    zeep_settings = settings or Settings(strict=strict, forbid_external=True, xml_huge_tree=True)
    base = source if "://" in source else None
    try:
        document = Document(io.BytesIO(fixed), transport, base=base, settings=zeep_settings)
    except WsdlDefectError:
        raise
    except ExternalReferenceForbidden as exc:
        url = redact_text(str(exc.args[0] if exc.args else exc))[:120]
        raise WsdlDefectError(
            f"the WSDL imports an external schema ({url}); "
            "the bridge does not fetch schemas over the network: give it a WSDL file with the schema inlined",
            defect="external-schema",
        ) from exc
    except Exception as exc:  # zeep signals schema trouble with AssertionError, LookupError, its own types
        raise WsdlDefectError(
            f"zeep cannot read the WSDL: {type(exc).__name__}: {str(exc)[:200]}",
            defect="unsupported-schema",
            internal=repr(exc),
        ) from exc
    return LoadedWsdl(document=document, repairs=repairs, source=source)


def pick_port(document: Any, soap_version: Literal["1.1", "1.2"]) -> tuple[str, Any, str]:
    """(port name, binding, advertised address) of the port speaking ``soap_version``."""
    wanted = Soap11Binding if soap_version == "1.1" else Soap12Binding
    seen: list[str] = []
    for service in document.services.values():
        for name, port in service.ports.items():
            seen.append(name)
            if isinstance(port.binding, wanted):
                return name, port.binding, str(port.binding_options.get("address", ""))
    raise WsdlDefectError(
        f"the WSDL has no SOAP {soap_version} port (ports: {', '.join(seen) or 'none'})",
        defect="no-port",
    )
