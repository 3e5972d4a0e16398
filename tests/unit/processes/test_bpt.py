"""The ``.bpt`` builder: every catalog entry becomes a designer export Bitrix24 can import."""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

import pytest

from processes import activities, bpt
from processes.catalog import default_catalog

CLIENT_ID = "local.5f0e1c2a3b4d5e.12345678"
CATALOG = default_catalog()


def _walk(nodes: list[Any]) -> list[dict[str, Any]]:
    out = []
    for node in nodes:
        out.append(node)
        out.extend(_walk(node.get("Children", [])))
    return out


@pytest.mark.parametrize("code", sorted(CATALOG.processes))
def test_every_entry_builds_a_template_bitrix24_can_read(code: str) -> None:
    raw = bpt.build(CATALOG.entry(code), CLIENT_ID)
    serialized = zlib.decompress(raw)  # gzcompress: a zlib stream (Packer\Bpt::pack)
    assert serialized.startswith(b'a:6:{s:7:"VERSION";i:2;s:8:"TEMPLATE";a:1:{i:0;a:4:{s:4:"Type";')
    datum = bpt.unpack(raw)
    assert list(datum) == ["VERSION", "TEMPLATE", "PARAMETERS", "VARIABLES", "CONSTANTS", "DOCUMENT_FIELDS"]
    root = datum["TEMPLATE"][0]
    assert root["Type"] == "SequentialWorkflowActivity" and root["Name"] == "Template"
    nodes = _walk([root])
    names = [n["Name"] for n in nodes]
    assert len(names) == len(set(names)), "activity names must be unique in a template"
    entry = CATALOG.entry(code)
    approvals = [n for n in nodes if n["Type"] == "ApproveActivity"]
    assert len(approvals) >= len(entry.approvals)
    for node in approvals:
        assert [c["Type"] for c in node["Children"]] == ["SequenceActivity", "SequenceActivity"]
    assert set(datum["DOCUMENT_FIELDS"]) == {bpt.document_field(f.code) for f in entry.fields} | {
        bpt.document_field(bpt.STATUS_FIELD)
    }


def test_rest_activities_use_the_designer_type_of_the_app() -> None:
    nodes = _walk(bpt.template(CATALOG.entry("leave"), CLIENT_ID)["TEMPLATE"])
    types = {n["Type"] for n in nodes if n["Type"].startswith("rest_")}
    # [S] RestService::generateInternalCode: md5(APP_ID . '@' . CODE)
    assert activities.RESOLVE.designer_type(CLIENT_ID) == "rest_" + (
        hashlib.md5(f"{CLIENT_ID}@eb_resolve_approvers".encode()).hexdigest()
    )
    assert types == {a.designer_type(CLIENT_ID) for a in activities.ALL if a is not activities.FETCH_DOCUMENT}
    check = next(n for n in nodes if n["Name"] == "A_check")
    assert check["Properties"]["RequestKind"] == "leave" and check["Properties"]["UseSubscription"] == "Y"


def test_escalation_only_where_the_catalog_names_an_alternate() -> None:
    nodes = {n["Name"]: n for n in _walk(bpt.template(CATALOG.entry("leave"), CLIENT_ID)["TEMPLATE"])}
    assert nodes["A_client"]["Properties"]["TimeoutDuration"] == 48
    assert nodes["A_client"]["Properties"]["TimeoutDurationType"] == "h"
    assert nodes["A_client_alt"]["Properties"]["Users"] == ["{=A_check:AlternateApprover}"]
    assert nodes["A_provider"]["Properties"]["TimeoutDuration"] == 0
    assert "A_provider_alt" not in nodes
    assert "A_balance" in nodes and "A_document" not in nodes
    certificate = {
        n["Name"] for n in _walk(bpt.template(CATALOG.entry("certificate"), CLIENT_ID)["TEMPLATE"])
    }
    assert "A_document" in certificate and "A_balance" not in certificate


def test_unpack_refuses_what_is_not_a_template() -> None:
    with pytest.raises(ValueError, match="not a Bitrix24 workflow template"):
        bpt.unpack(zlib.compress(b'a:1:{s:4:"NAME";s:1:"x";}'))
    with pytest.raises(ValueError):
        bpt.unpack(b"PK\x03\x04 a zip")
