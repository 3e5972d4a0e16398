"""SubmitRequest (idempotent, reviewed by the simulated HR), GetDocument (PDF) and SubmitTimesheet."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from onec_soap import Q, Reply, Soap, p

from connectors.onec.contract import EMPTY_REF
from sandbox.onec.testing import RunningSandbox

pytest_plugins = ["onec_fixtures"]


def submit(soap: Soap, request_id: str, kind: str, person: str, employee: str | None = None,
           date_from: str | None = None, date_to: str | None = None, details: dict[str, str] | None = None,
           version: str = "1.1") -> Reply:  # fmt: skip
    detail_xml = "".join(
        f"<e:item><e:key>{k}</e:key><e:value>{v}</e:value></e:item>" for k, v in (details or {}).items()
    )
    attachment = (
        "<e:item><e:name>scan.pdf</e:name><e:mime>application/pdf</e:mime>"
        f"<e:content>{base64.b64encode(b'%PDF-1.4 test').decode()}</e:content></e:item>"
    )
    approval = (
        "<e:item><e:who>Петрова А. В.</e:who><e:role>manager</e:role><e:at>2026-03-16T08:00:00</e:at>"
        '<e:decision>Approved</e:decision><e:comment xsi:nil="true"/></e:item>'
    )
    params = (
        p("requestId", request_id) + p("kind", kind) + p("personRef", person)
        + p("employeeRef", employee or EMPTY_REF)
        + p("dateFrom", f"{date_from}T00:00:00" if date_from else None)
        + p("dateTo", f"{date_to}T00:00:00" if date_to else None)
        + p("details", detail_xml) + p("approvals", approval) + p("attachments", attachment)
    )  # fmt: skip
    reply = soap.call("SubmitRequest", params, version)
    assert reply.status == 200, reply.text[:300]
    return reply


def active_employee(sb: RunningSandbox) -> dict[str, Any]:
    for emp in sb.knobs.pick("Employee", n=50, active="true", kind="Main"):
        if not sb.state.company.absences_by_employee.get(emp["ref"]):
            return emp
    raise AssertionError("no active employee without absences")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_submit_request_is_idempotent(soap: Soap, sandbox: RunningSandbox, version: str) -> None:
    emp = active_employee(sandbox)
    rid = str(uuid.uuid4())
    first = submit(
        soap, rid, "Leave", emp["person_ref"], emp["ref"], "2026-04-06", "2026-04-19", version=version
    )
    assert first.value("m:status") == "Created" and first.errors() == []
    assert first.value("m:docType") == "ЗаявкаНаОтпуск"
    again = submit(
        soap, rid, "Leave", emp["person_ref"], emp["ref"], "2026-04-06", "2026-04-19", version=version
    )
    assert again.value("m:status") == "AlreadyExists"
    assert again.value("m:docRef") == first.value("m:docRef")
    assert again.value("m:docNumber") == first.value("m:docNumber")
    assert len(sandbox.knobs.requests()) == 1


def test_request_review_moves_status_and_creates_the_absence(soap: Soap, sandbox: RunningSandbox) -> None:
    emp = active_employee(sandbox)
    rid = str(uuid.uuid4())
    created = submit(soap, rid, "Leave", emp["person_ref"], None, "2026-04-06", "2026-04-19")
    doc_ref = created.value("m:docRef")
    feed = soap.call("GetChanges", p("ackMessageNo", 0) + p("maxItems", 100))
    requests = feed.findall("m:items/m:item/m:payload/m:request")
    assert [r.findtext(f"{Q}status") for r in requests] == ["InReview"]
    sandbox.knobs.advance(seconds=601)  # the review delay (600 s by default) passes on the sandbox clock
    feed = soap.call("GetChanges", p("ackMessageNo", feed.value("m:messageNo")) + p("maxItems", 100))
    by_entity = {i.findtext(f"{Q}entity"): i for i in feed.findall("m:items/m:item")}
    assert set(by_entity) == {"Request", "Absence", "Employee"}
    request = by_entity["Request"].find(f"{Q}payload/{Q}request")
    assert by_entity["Request"].findtext(f"{Q}ref") == doc_ref
    assert request.findtext(f"{Q}requestId") == rid and request.findtext(f"{Q}status") == "Approved"
    assert request.findtext(f"{Q}reviewedAt") != "0001-01-01T00:00:00"
    absence = by_entity["Absence"].find(f"{Q}payload/{Q}absence")
    assert absence.findtext(f"{Q}employeeRef") == emp["ref"] and absence.findtext(f"{Q}kind") == "Vacation"


def test_overlapping_leave_is_rejected_with_a_reason(soap: Soap, sandbox: RunningSandbox) -> None:
    emp = active_employee(sandbox)
    sandbox.knobs.add_absence(emp["ref"], "SickLeave", "2026-04-01", "2026-04-10")
    rid = str(uuid.uuid4())
    submit(soap, rid, "Leave", emp["person_ref"], emp["ref"], "2026-04-06", "2026-04-19")
    sandbox.knobs.advance(seconds=601)
    (request,) = sandbox.knobs.requests()
    assert request["status"] == "Rejected" and "Больничный" in request["reason"]


def test_certificate_pdf_is_ready_after_approval(soap: Soap, sandbox: RunningSandbox) -> None:
    emp = active_employee(sandbox)
    rid = str(uuid.uuid4())
    submit(soap, rid, "Certificate", emp["person_ref"], details={"purpose": "по месту требования"})
    pending = soap.call("GetDocument", p("requestId", rid))
    assert pending.value("m:status") == "InReview"
    assert pending.find("m:content").get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    sandbox.knobs.decide(rid, "Approved")
    for version in ("1.1", "1.2"):
        ready = soap.call("GetDocument", p("requestId", rid), version)
        assert ready.value("m:status") == "Done" and ready.value("m:docType") == "ЗапросСправкиСотрудником"
        pdf = base64.b64decode(ready.value("m:content") or "")
        assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
        assert ready.value("m:mime") == "application/pdf"
    unknown = soap.call("GetDocument", p("requestId", str(uuid.uuid4())))
    assert unknown.errors() == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("kind", "person", "dates", "code"),
    [
        ("Leave", "known", (None, None), "REQUIRED"),
        ("Leave", "known", ("2026-04-10", "2026-04-01"), "INVALID_PERIOD"),
        ("Leave", "unknown", ("2026-04-01", "2026-04-10"), "PERSON_NOT_FOUND"),
        ("Teleport", "known", (None, None), "UNKNOWN_KIND"),
        ("LeaveCancel", "known", (None, None), "REQUIRED"),
    ],
)
def test_request_validation_errors(
    soap: Soap,
    sandbox: RunningSandbox,
    kind: str,
    person: str,
    dates: tuple[str | None, str | None],
    code: str,
) -> None:
    emp = active_employee(sandbox)
    person_ref = emp["person_ref"] if person == "known" else str(uuid.uuid4())
    reply = submit(soap, str(uuid.uuid4()), kind, person_ref, None, *dates)
    assert reply.value("m:status") == "Rejected"
    assert code in reply.errors()
    assert reply.value("m:docRef") == EMPTY_REF
    assert sandbox.knobs.requests() == []


def test_request_id_reused_for_another_kind_is_rejected(soap: Soap, sandbox: RunningSandbox) -> None:
    emp = active_employee(sandbox)
    rid = str(uuid.uuid4())
    submit(soap, rid, "Certificate", emp["person_ref"])
    reply = submit(soap, rid, "IncomeCertificate", emp["person_ref"])
    assert reply.value("m:status") == "Rejected" and reply.errors() == ["REQUEST_ID_CONFLICT"]


def timesheet(soap: Soap, rid: str, org: str, dept: str, rows: dict[str, list[tuple[str, str, str]]],
              version: str = "1.1") -> Reply:  # fmt: skip
    rows_xml = "".join(
        f"<e:item><e:employeeRef>{emp}</e:employeeRef><e:days>"
        + "".join(
            f"<e:item><e:date>{d}T00:00:00</e:date><e:timeKind>{k}</e:timeKind><e:hours>{h}</e:hours></e:item>"
            for d, k, h in days
        )
        + "</e:days></e:item>"
        for emp, days in rows.items()
    )
    params = (
        p("requestId", rid) + p("orgRef", org) + p("deptRef", dept) + p("periodFrom", "2026-03-01T00:00:00")
        + p("periodTo", "2026-03-31T00:00:00") + p("rows", rows_xml) + p("approvals", "")
    )  # fmt: skip
    reply = soap.call("SubmitTimesheet", params, version)
    assert reply.status == 200, reply.text[:300]
    return reply


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_timesheet_conflicts_and_idempotency(soap: Soap, sandbox: RunningSandbox, version: str) -> None:
    emp = active_employee(sandbox)
    org, dept = emp["current"]["org_ref"], emp["current"]["dept_ref"]
    absence = sandbox.knobs.add_absence(emp["ref"], "Vacation", "2026-03-10", "2026-03-11")
    days = [
        ("2026-03-09", "Я", "8"),
        ("2026-03-10", "Я", "8"),
        ("2026-03-11", "ОТ", "0"),
        ("2026-03-12", "Я", "8"),
    ]
    rid = str(uuid.uuid4())
    first = timesheet(soap, rid, org, dept, {emp["ref"]: days}, version)
    assert first.value("m:status") == "Created" and first.errors() == []
    conflicts = first.findall("m:conflicts/m:item")
    assert [(c.findtext(f"{Q}employeeRef"), c.findtext(f"{Q}date")) for c in conflicts] == [
        (emp["ref"], "2026-03-10T00:00:00")
    ]
    assert absence["docNumber"] in (conflicts[0].findtext(f"{Q}ownedBy") or "")
    again = timesheet(soap, rid, org, dept, {emp["ref"]: days}, version)
    assert again.value("m:status") == "AlreadyExists" and again.value("m:docRef") == first.value("m:docRef")
    fixed = timesheet(soap, str(uuid.uuid4()), org, dept, {emp["ref"]: days[:1]}, version)
    assert fixed.value("m:status") == "Replaced" and fixed.value("m:docRef") == first.value("m:docRef")
    (stored,) = sandbox.knobs.timesheets()
    assert stored["rows"][emp["ref"]] == [["2026-03-09", "Я", "8"]]
    assert len(stored["request_ids"]) == 2


def test_timesheet_validation(soap: Soap, sandbox: RunningSandbox) -> None:
    emp = active_employee(sandbox)
    org, dept = emp["current"]["org_ref"], emp["current"]["dept_ref"]
    other_org = next(o["ref"] for o in sandbox.knobs.pick("Organization", n=10) if o["ref"] != org)
    bad_dept = timesheet(soap, str(uuid.uuid4()), other_org, dept, {emp["ref"]: []})
    assert bad_dept.value("m:status") == "Rejected" and "DEPARTMENT_NOT_FOUND" in bad_dept.errors()
    outside = timesheet(soap, str(uuid.uuid4()), org, dept, {emp["ref"]: [("2026-04-01", "Я", "8")]})
    assert outside.errors() == ["DAY_OUTSIDE_PERIOD"]
    stranger = timesheet(soap, str(uuid.uuid4()), org, dept, {str(uuid.uuid4()): [("2026-03-02", "Я", "8")]})
    assert stranger.errors() == ["EMPLOYEE_NOT_FOUND"]
    assert sandbox.knobs.timesheets() == []


def test_request_snapshot_lists_submitted_requests(soap: Soap, sandbox: RunningSandbox) -> None:
    emp = active_employee(sandbox)
    ids = sorted(str(uuid.uuid4()) for _ in range(3))
    for rid in ids:
        submit(soap, rid, "Certificate", emp["person_ref"])
    page = soap.call("GetSnapshotPage", p("entity", "Request") + p("afterRef", EMPTY_REF) + p("pageSize", 2))
    assert page.value("m:hasMore") == "true"
    rest = soap.call(
        "GetSnapshotPage", p("entity", "Request") + p("afterRef", page.value("m:lastRef")) + p("pageSize", 2)
    )
    assert rest.value("m:hasMore") == "false"
    found = [
        r.findtext(f"{Q}requestId")
        for r in page.findall("m:items/m:item/m:request") + rest.findall("m:items/m:item/m:request")
    ]
    assert sorted(found) == ids
