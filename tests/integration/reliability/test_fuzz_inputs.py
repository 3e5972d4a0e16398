"""Property-based fuzz (hypothesis) of what enters the bridge from 1C: the fast SOAP parsing of snapshot
pages and change batches (connectors/onec records + normalise) and the mapping to Bitrix24 fields.

The rule under test: bad input from 1C is a clear ``OneCProtocolError`` (the run stops with one line) or
a ``TransformError`` (the person goes to quarantine with a reason) — never any other exception. Real
pages rendered by the 1C sandbox are the seeds; hypothesis replaces leaf values, nils and drops
elements, or sends arbitrary bytes. ``EXTRANET_BRIDGE_FUZZ_EXAMPLES`` sets the cases per property (a
few hundred in CI; scripts/reliability/fuzz.py runs the long version and reports cases and failures).
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import date
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from connectors.onec import normalise, records
from connectors.onec.errors import OneCProtocolError
from connectors.onec.port import ContactPhone
from mappings import PersonView, TransformError, load_mapping
from mappings.transforms import Dropped
from sandbox.onec import mutations, reads, render
from sandbox.onec.state import SandboxConfig, SandboxState

EXAMPLES = int(os.environ.get("EXTRANET_BRIDGE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MSK = ZoneInfo("Europe/Moscow")
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
ENTITIES = ("Organization", "Department", "Position", "Person", "Employee", "Absence")
MAPPING = load_mapping()

# Text XML 1.0 can carry (no NUL, no lone surrogates, no other C0 controls but tab and newlines).
XML_TEXT = st.text(
    st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters="".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r"),
    ),
    max_size=60,
)
TRICKY = st.sampled_from(
    [
        "",
        " ",
        "0001-01-01T00:00:00",
        "2024-02-30",
        "9999-12-31T23:59:59",
        "-0001-01-01",
        "00000000-0000-0000-0000-000000000000",
        "true",
        "1",
        "yes",
        "NaN",
        "1e309",
        "-1",
        "99999999999999999999999",
        "+7 (495) 123-45-67",
        "иванов@почта.рф",
        "x" * 5000,
        "'; DROP TABLE persons; --",
        "<script>alert(1)</script>",
    ]
)
VALUES = st.one_of(XML_TEXT, TRICKY)


def _param(value: str) -> Any:
    """A request parameter as the sandbox's SOAP layer hands it over (an element)."""
    element = etree.Element("param")
    element.text = value
    return element


@cache
def seed_pages() -> dict[str, bytes]:
    """Real answers of the 1C sandbox: one snapshot page per entity and one change batch."""
    state = SandboxState(SandboxConfig(seed=3, employees=40, today=date(2026, 11, 23), frozen_clock=True))
    pages = {
        entity: render.envelope(
            SOAP11,
            "GetSnapshotPage",
            reads.get_snapshot_page(state, {"entity": _param(entity), "pageSize": _param("20")}),
        )
        for entity in ENTITIES
    }
    mutations.churn(state, {"hires": 3, "transfers": 3, "dismissals": 2, "personEdits": 3, "absences": 2})
    pages["changes"] = render.envelope(
        SOAP11, "GetChanges", reads.get_changes(state, {"maxItems": _param("50")})
    )
    return pages


def _parse(name: str, body: bytes) -> None:
    """Run the connector's parser; only a clear protocol error may come out."""
    try:
        if name == "changes":
            records.change_batch(body, MSK)
        else:
            records.snapshot_page(body, MSK)
    except OneCProtocolError as exc:
        assert exc.operator_message, "a protocol error without a message for the operator"


@st.composite
def mutated_page(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from([*ENTITIES, "changes"]))
    root = etree.fromstring(seed_pages()[name])
    leaves = [e for e in root.iter() if isinstance(e.tag, str) and len(e) == 0]
    for _ in range(draw(st.integers(1, 6))):
        leaf = leaves[draw(st.integers(0, len(leaves) - 1))]
        action = draw(st.sampled_from(["text", "text", "text", "nil", "drop"]))
        if action == "text":
            leaf.text = draw(VALUES)
        elif action == "nil":
            leaf.text = None
            leaf.set(XSI_NIL, "true")
        elif leaf.getparent() is not None:
            leaf.getparent().remove(leaf)
    return name, etree.tostring(root)


@FUZZ
@given(mutated_page())
def test_fuzzed_1c_pages_parse_or_fail_clearly(case: tuple[str, bytes]) -> None:
    _parse(*case)


@FUZZ
@given(st.sampled_from([*ENTITIES, "changes"]), st.binary(max_size=400), st.integers(0, 4000))
def test_truncated_or_garbage_1c_answers_fail_clearly(name: str, garbage: bytes, cut: int) -> None:
    body = seed_pages()[name]
    _parse(name, body[:cut] + garbage)
    _parse(name, garbage)


@FUZZ
@given(VALUES)
def test_1c_value_rules_never_fail_unclearly(value: str) -> None:
    rules = (normalise.to_date, normalise.to_bool, normalise.to_decimal, normalise.ref, normalise.text)
    for rule in (*rules, lambda v: normalise.to_datetime(v, MSK), normalise.time_zone):
        with contextlib.suppress(OneCProtocolError):
            rule(value)


EMAILS = st.builds(
    "{}@{}.{}".format,
    st.text("abcxyz.+_-АЯ09", min_size=0, max_size=12),
    st.text("abc-09я", min_size=0, max_size=10),
    st.sampled_from(["ru", "com", "рф", "test", "invalid", ""]),
)
PHONES = st.lists(
    st.builds(ContactPhone, st.sampled_from(["Mobile", "Home", "Work", ""]), st.one_of(VALUES, st.none())),
    max_size=3,
)


@st.composite
def person_views(draw: st.DrawFn) -> PersonView:
    return PersonView(
        person_ref=draw(st.one_of(XML_TEXT, st.uuids().map(str))),
        first_name=draw(VALUES),
        last_name=draw(VALUES),
        middle_name=draw(st.one_of(st.none(), VALUES)),
        birth_date=draw(st.one_of(st.none(), st.dates())),
        gender=draw(st.one_of(st.none(), st.sampled_from(["Male", "Female", "", "X"]), XML_TEXT)),
        emails=tuple(draw(st.lists(st.one_of(VALUES, EMAILS), max_size=3))),
        phones=tuple(draw(PHONES)),
        position_name=draw(st.one_of(st.none(), VALUES)),
        org_name=draw(st.one_of(st.none(), VALUES)),
        department_name=draw(st.one_of(st.none(), VALUES)),
        personnel_no=draw(st.one_of(st.none(), VALUES)),
    )


@FUZZ
@given(person_views())
def test_mapping_gives_fields_or_a_quarantine_reason(view: PersonView) -> None:
    try:
        fields = MAPPING.user_fields(view)
    except TransformError as exc:
        assert exc.code and exc.reason
        return
    assert re.fullmatch(r"[^@\s]+@[^@\s]+", fields["EMAIL"]), "an unusable e-mail reached the fields"
    mobile = fields["PERSONAL_MOBILE"]
    assert mobile == "" or re.fullmatch(r"\+\d{8,15}", mobile), "a phone not in E.164 reached the fields"
    if isinstance(mobile, Dropped):
        assert mobile.code == "unusable_phone" and mobile.reason
    assert all(isinstance(v, str | list) for v in fields.values())


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["org_name", "org_full_name", "org_inn"]), st.one_of(VALUES, st.none()))
)
def test_group_names_from_any_1c_text(values: dict[str, Any]) -> None:
    values = {"org_name": None, "org_full_name": None, "org_inn": None, **values}
    group = MAPPING.group("organization", "ref-1", values)
    assert isinstance(group.fields["NAME"], str)
