"""GetInfo, GetSnapshotPage (keyset paging) and GetWorkSchedule over HTTP, in SOAP 1.1 and 1.2."""

from __future__ import annotations

import pytest
from onec_soap import SOAP11, SOAP12, TODAY, Q, Soap, p

from connectors.onec.contract import EMPTY_DATE, EMPTY_REF
from sandbox.onec.model import ENTITIES
from sandbox.onec.testing import RunningSandbox

pytest_plugins = ["onec_fixtures"]

VERSIONS = ["1.1", "1.2"]


@pytest.mark.parametrize("version", VERSIONS)
def test_get_info(shared_soap: Soap, version: str) -> None:
    reply = shared_soap.call("GetInfo", "", version)
    assert reply.status == 200
    expected_type = "text/xml" if version == "1.1" else "application/soap+xml"
    assert reply.content_type.startswith(expected_type)
    assert reply.root.tag == f"{{{SOAP11 if version == '1.1' else SOAP12}}}Envelope"
    assert reply.value("m:contractVersion") == "1.0"
    assert reply.value("m:timeZone") == "Europe/Moscow"
    assert reply.value("m:serverTime") == f"{TODAY.isoformat()}T09:00:00"  # no offset, local time
    assert reply.value("m:nodeCode")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("entity", [e for e in ENTITIES if e != "Request"])
def test_snapshot_pages_cover_every_record_once_in_ref_order(
    shared_soap: Soap, shared_sandbox: RunningSandbox, version: str, entity: str
) -> None:
    refs: list[str] = []
    after = EMPTY_REF
    tag = entity[0].lower() + entity[1:]
    for _ in range(1000):
        reply = shared_soap.call(
            "GetSnapshotPage", p("entity", entity) + p("afterRef", after) + p("pageSize", 97), version
        )
        assert reply.status == 200 and reply.errors() == []
        page = [item.findtext(f"{Q}{tag}/{Q}ref") for item in reply.findall("m:items/m:item")]
        assert len(page) <= 97
        refs += page
        after = reply.value("m:lastRef") or ""
        if reply.value("m:hasMore") == "false":
            break
    assert refs == sorted(set(refs))
    assert len(refs) == len(shared_sandbox.state.company.tables[entity])


def test_employee_payload_carries_history_and_1c_empties(
    shared_soap: Soap, shared_sandbox: RunningSandbox
) -> None:
    reply = shared_soap.call(
        "GetSnapshotPage", p("entity", "Employee") + p("afterRef", nil=True) + p("pageSize", 1000)
    )
    employees = reply.findall("m:items/m:item/m:employee")
    assert len(employees) == 400
    mains = [e for e in employees if e.findtext(f"{Q}mainEmployeeRef") == EMPTY_REF]
    assert mains, "main employments carry the empty ref, not nil"
    history = [h for e in employees for h in e.findall(f"{Q}history/{Q}item")]
    assert {h.findtext(f"{Q}event") for h in history} >= {"Hire", "Transfer", "Dismissal"}
    assert any(h.findtext(f"{Q}validUntil") == EMPTY_DATE for h in history)
    future = [h for h in history if (h.findtext(f"{Q}period") or "") > f"{TODAY.isoformat()}T00:00:00"]
    assert future, "future-dated transfers or dismissals are in the history"
    dismissed = [e for e in employees if e.findtext(f"{Q}archived") == "true"]
    assert dismissed and all(e.findtext(f"{Q}current/{Q}dismissalDate") != EMPTY_DATE for e in dismissed)


def test_person_payload_has_nil_and_empty_lists(shared_soap: Soap) -> None:
    reply = shared_soap.call(
        "GetSnapshotPage", p("entity", "Person") + p("afterRef", EMPTY_REF) + p("pageSize", 1000)
    )
    persons = reply.findall("m:items/m:item/m:person")
    xsi_nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    assert all(x.find(f"{Q}gender") is not None for x in persons)
    assert any(x.find(f"{Q}middleName").get(xsi_nil) == "true" for x in persons)
    assert any(x.find(f"{Q}phones").get(xsi_nil) == "true" for x in persons)
    assert any(len(x.find(f"{Q}emails")) == 0 for x in persons)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (p("entity", "Employee") + p("afterRef", EMPTY_REF) + p("pageSize", 1001), "INVALID_PAGE_SIZE"),
        (p("entity", "Employee") + p("afterRef", EMPTY_REF) + p("pageSize", 0), "INVALID_PAGE_SIZE"),
        (p("entity", "Salary") + p("afterRef", EMPTY_REF) + p("pageSize", 10), "UNKNOWN_ENTITY"),
        (p("entity", "Person") + p("afterRef", "not-a-guid") + p("pageSize", 10), "INVALID_VALUE"),
    ],
)
def test_snapshot_business_errors_travel_in_return(shared_soap: Soap, params: str, code: str) -> None:
    reply = shared_soap.call("GetSnapshotPage", params)
    assert reply.status == 200
    assert reply.errors() == [code]
    assert reply.value("m:hasMore") == "false"


@pytest.mark.parametrize("version", VERSIONS)
def test_work_schedule(shared_soap: Soap, shared_sandbox: RunningSandbox, version: str) -> None:
    company = shared_sandbox.state.company
    refs = [e.ref for e in company.employees.values() if e.is_active_on(TODAY)][:3]
    refs_xml = "".join(f"<e:item>{r}</e:item>" for r in refs)
    params = (
        p("employeeRefs", refs_xml)
        + p("periodFrom", "2026-03-01T00:00:00")
        + p("periodTo", "2026-03-31T00:00:00")
    )
    reply = shared_soap.call("GetWorkSchedule", params, version)
    schedules = reply.findall("m:items/m:item")
    assert [s.findtext(f"{Q}employeeRef") for s in schedules] == refs
    for schedule in schedules:
        days = schedule.findall(f"{Q}days/{Q}item")
        assert len(days) == 31
        hours = {d.findtext(f"{Q}date"): float(d.findtext(f"{Q}hours") or 0) for d in days}
        assert any(h > 0 for h in hours.values())
        if "Пятидневка" in (schedule.findtext(f"{Q}scheduleName") or ""):
            assert hours["2026-03-08T00:00:00"] == 0  # a public holiday (and a Sunday)
            assert hours["2026-03-14T00:00:00"] == 0  # Saturday


def test_work_schedule_errors(shared_soap: Soap) -> None:
    params = (
        p("employeeRefs", "") + p("periodFrom", "2026-03-31T00:00:00") + p("periodTo", "2026-03-01T00:00:00")
    )
    assert shared_soap.call("GetWorkSchedule", params).errors() == ["INVALID_PERIOD"]
    unknown = f"<e:item>{EMPTY_REF[:-1]}1</e:item>"
    params = (
        p("employeeRefs", unknown)
        + p("periodFrom", "2026-03-01T00:00:00")
        + p("periodTo", "2026-03-02T00:00:00")
    )
    assert shared_soap.call("GetWorkSchedule", params).errors() == ["EMPLOYEE_NOT_FOUND"]
