"""The 1C connector against the 1C sandbox over HTTP: snapshot, change feed, writes, documents, faults."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from config.settings import OneCSettings, Settings
from connectors.onec import build_onec
from connectors.onec.connector import OneCConnector, RetryPolicy
from connectors.onec.errors import OneCFault, OneCRequestRejected, OneCSessionsLocked
from connectors.onec.port import (
    Employee,
    EmploymentRef,
    OrgRef,
    Person,
    PersonRef,
    RequestStatus,
    RequestSubmission,
    TEntity,
    TimesheetDay,
    TimesheetRow,
    TimesheetSubmission,
)
from sandbox.onec.testing import RunningSandbox, onec_sandbox

TODAY = date(2026, 3, 2)
FAST = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)
ENTITIES: tuple[TEntity, ...] = ("Organization", "Department", "Position", "Person", "Employee", "Absence")


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with onec_sandbox(seed=7, employees=120, today=TODAY, frozen_clock=True) as sb:
        yield sb


def _settings(sb: RunningSandbox, **onec: object) -> Settings:
    values = {"endpoint": sb.endpoint, "username": sb.user, "password": sb.password, **onec}
    return Settings(onec=OneCSettings(**values))


@pytest.fixture
async def connector(sandbox: RunningSandbox) -> AsyncIterator[OneCConnector]:
    onec = build_onec(_settings(sandbox, page_size=25), retry=FAST)
    yield onec
    await onec.close()


async def _all(onec: OneCConnector, entity: TEntity) -> list[object]:
    return [record async for page in onec.snapshot(entity) for record in page]


async def _active_employee(onec: OneCConnector) -> Employee:
    for record in await _all(onec, "Employee"):
        assert isinstance(record, Employee)
        if record.current and record.current.department_ref and not record.current.dismissal_date:
            return record
    raise AssertionError("the sandbox has no active employee")


async def test_full_snapshot_matches_the_sandbox(sandbox: RunningSandbox, connector: OneCConnector) -> None:
    counts = sandbox.knobs.stats()["counts"]
    records = {entity: await _all(connector, entity) for entity in ENTITIES}
    assert {e: len(r) for e, r in records.items()} == {e: counts[e] for e in ENTITIES}
    assert sandbox.knobs.stats()["calls"]["GetSnapshotPage"] > len(ENTITIES)  # several pages of 25
    persons = {p.ref for p in records["Person"] if isinstance(p, Person)}
    employees = [e for e in records["Employee"] if isinstance(e, Employee)]
    assert len({e.ref for e in employees}) == len(employees)
    assert all(e.person_ref in persons for e in employees)
    assert all(e.history and e.history[0].event == "Hire" for e in employees)
    assert all(p.last_name == p.last_name.strip() and p.last_name for p in records["Person"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_wsdl_from_the_server_and_either_soap_version(sandbox: RunningSandbox, version: str) -> None:
    # The served WSDL advertises http://srv-1c/…: the connector must call where it fetched the WSDL from.
    onec = build_onec(
        _settings(sandbox, wsdl=sandbox.wsdl_url, endpoint="", soap_version=version), retry=FAST
    )
    try:
        info = await onec.info()
        assert info.contract_version == "1.0" and info.server_time.tzinfo is not None
        orgs = await _all(onec, "Organization")
        assert len(orgs) == sandbox.knobs.stats()["counts"]["Organization"]
        employee = await _active_employee(onec)
        leave = RequestSubmission(
            request_id=str(uuid.uuid4()), kind="Leave", person_ref=employee.person_ref, employee_ref=None,
            date_from=TODAY + timedelta(days=60), date_to=TODAY + timedelta(days=61),
        )  # fmt: skip
        assert (await onec.submit_request(leave)).status == "Created"
    finally:
        await onec.close()


async def _drain(onec: OneCConnector, ack: int) -> int:
    while True:
        batch = await onec.changes(ack)
        ack = batch.message_no
        if not batch.has_more:
            return ack


async def test_change_feed_redelivers_until_acknowledged(
    sandbox: RunningSandbox, connector: OneCConnector
) -> None:
    committed = await _drain(connector, 0)
    hired = sandbox.knobs.hire()
    first = await connector.changes(committed)
    refs = {(c.entity, c.ref) for c in first.items}
    assert ("Employee", hired["employeeRef"]) in refs and ("Person", hired["personRef"]) in refs
    employee = next(c.record for c in first.items if c.entity == "Employee")
    assert isinstance(employee, Employee) and employee.person_ref == hired["personRef"]

    again = await connector.changes(committed)  # the caller did not commit: same changes come back
    assert {(c.entity, c.ref) for c in again.items} >= refs

    sandbox.knobs.transfer(hired["employeeRef"])  # changed again after it was sent, before the ack
    after_ack = await connector.changes(again.message_no)
    assert [(c.entity, c.ref) for c in after_ack.items] == [("Employee", hired["employeeRef"])]
    done = await connector.changes(after_ack.message_no)
    assert done.items == ()


async def test_refusals_of_reads_are_typed_errors(sandbox: RunningSandbox, connector: OneCConnector) -> None:
    with pytest.raises(OneCRequestRejected) as caught:
        await _all(connector, "Payroll")  # type: ignore[arg-type]
    assert caught.value.codes == ("UNKNOWN_ENTITY",)
    sent = (await connector.changes(0)).message_no
    with pytest.raises(OneCRequestRejected) as caught:
        await connector.changes(sent + 10)  # acknowledging what was never sent
    assert caught.value.codes == ("ACK_OUT_OF_RANGE",)


async def test_sessions_locked_is_retried_and_module_faults_are_not(
    sandbox: RunningSandbox, connector: OneCConnector
) -> None:
    sandbox.knobs.fault("sessions_locked", operations=["GetInfo"], count=2)
    await connector.info()
    assert sandbox.knobs.stats()["calls"]["GetInfo"] == 3

    sandbox.knobs.fault("sessions_locked", operations=["GetInfo"], count=None)
    with pytest.raises(OneCSessionsLocked):
        await connector.info()
    sandbox.knobs.clear_faults()

    sandbox.knobs.fault("drop", operations=["GetChanges"], count=1)
    assert (await connector.changes(0)).message_no >= 1  # dropped connection: retried

    before = sandbox.knobs.stats()["calls"]["GetInfo"]
    sandbox.knobs.fault("soap_fault", operations=["GetInfo"], count=1, message="Деление на 0")
    with pytest.raises(OneCFault):
        await connector.info()
    assert sandbox.knobs.stats()["calls"]["GetInfo"] == before + 1


async def test_submit_request_is_idempotent_by_request_id(
    sandbox: RunningSandbox, connector: OneCConnector
) -> None:
    employee = await _active_employee(connector)
    request = RequestSubmission(
        request_id=str(uuid.uuid4()),
        kind="Leave",
        person_ref=employee.person_ref,
        employee_ref=employee.ref,
        date_from=TODAY + timedelta(days=30),
        date_to=TODAY + timedelta(days=43),
        details={"comment": "ежегодный"},
    )
    created = await connector.submit_request(request)
    assert created.status == "Created" and created.doc_ref and created.doc_type == "ЗаявкаНаОтпуск"
    repeated = await connector.submit_request(request)
    assert repeated.status == "AlreadyExists" and repeated.doc_ref == created.doc_ref
    stored = [r for r in sandbox.knobs.requests() if r["request_id"] == request.request_id]
    assert len(stored) == 1 and len(sandbox.knobs.requests()) == 1

    calls = sandbox.knobs.stats()["calls"]["SubmitRequest"]
    stranger = RequestSubmission(
        request_id=str(uuid.uuid4()),
        kind="Certificate",
        person_ref=PersonRef(str(uuid.uuid4())),
        employee_ref=None,
    )
    rejected = await connector.submit_request(stranger)
    assert rejected.status == "Rejected" and "PERSON_NOT_FOUND" in {e.code for e in rejected.errors}
    assert sandbox.knobs.stats()["calls"]["SubmitRequest"] == calls + 1  # a business error is not retried


async def test_request_decision_travels_in_the_feed(
    sandbox: RunningSandbox, connector: OneCConnector
) -> None:
    employee = await _active_employee(connector)
    ack = await _drain(connector, 0)
    request_id = str(uuid.uuid4())
    await connector.submit_request(
        RequestSubmission(request_id=request_id, kind="IncomeCertificate", person_ref=employee.person_ref,
                          employee_ref=employee.ref)
    )  # fmt: skip
    sandbox.knobs.decide(request_id, "Rejected", reason="Справка уже выдана")
    batch = await connector.changes(ack)
    statuses = [c.record for c in batch.items if isinstance(c.record, RequestStatus)]
    assert statuses and statuses[-1].request_id == request_id
    assert statuses[-1].status == "Rejected" and statuses[-1].reason == "Справка уже выдана"
    assert statuses[-1].reviewed_at is not None and statuses[-1].reviewed_at.tzinfo is not None


async def test_certificate_pdf_once_approved(sandbox: RunningSandbox, connector: OneCConnector) -> None:
    employee = await _active_employee(connector)
    request_id = str(uuid.uuid4())
    await connector.submit_request(
        RequestSubmission(request_id=request_id, kind="Certificate", person_ref=employee.person_ref,
                          employee_ref=employee.ref)
    )  # fmt: skip
    pending = await connector.document(request_id)
    assert pending.content is None and pending.status == "InReview"
    sandbox.knobs.decide(request_id, "Approved")
    ready = await connector.document(request_id)
    assert ready.status == "Done" and ready.content is not None and ready.content.startswith(b"%PDF")
    assert ready.file_name and ready.file_name.endswith(".pdf")
    missing = await connector.document(str(uuid.uuid4()))
    assert missing.status == "NotFound" and missing.content is None


async def test_timesheet_reports_conflicts_and_is_idempotent(
    sandbox: RunningSandbox, connector: OneCConnector
) -> None:
    employee = await _active_employee(connector)
    assert employee.current is not None and employee.current.department_ref is not None
    month = date(2026, 4, 1)
    sandbox.knobs.add_absence(employee.ref, "SickLeave", "2026-04-06", "2026-04-08")
    days = tuple(TimesheetDay(month + timedelta(days=i), "Я", Decimal(8)) for i in range(10))
    timesheet = TimesheetSubmission(
        request_id=str(uuid.uuid4()),
        org_ref=OrgRef(employee.current.org_ref),
        department_ref=employee.current.department_ref,
        period_from=month,
        period_to=date(2026, 4, 30),
        rows=(TimesheetRow(EmploymentRef(employee.ref), days),),
    )
    result = await connector.submit_timesheet(timesheet)
    assert result.status == "Created" and result.doc_ref and result.errors == ()
    assert sorted(c.day for c in result.conflicts) == [date(2026, 4, 6), date(2026, 4, 7), date(2026, 4, 8)]
    assert all(c.employee_ref == employee.ref and c.owned_by for c in result.conflicts)
    repeated = await connector.submit_timesheet(timesheet)
    assert repeated.status == "AlreadyExists" and repeated.doc_ref == result.doc_ref
    assert len(sandbox.knobs.timesheets()) == 1


async def test_work_schedule(connector: OneCConnector) -> None:
    employee = await _active_employee(connector)
    schedule = await connector.work_schedule([employee.ref], TODAY, TODAY + timedelta(days=6))
    days = schedule[employee.ref]
    assert [d.day for d in days] == [TODAY + timedelta(days=i) for i in range(7)]
    assert sum(d.hours for d in days) > 0


@pytest.mark.slow
async def test_snapshot_of_fifty_thousand_employees() -> None:
    with onec_sandbox(seed=11, employees=50_000, today=TODAY, frozen_clock=True) as sb:
        onec = build_onec(_settings(sb), retry=FAST)
        try:
            refs: set[str] = set()
            async for page in onec.snapshot("Employee"):
                refs.update(e.ref for e in page if isinstance(e, Employee))
            assert len(refs) == sb.knobs.stats()["counts"]["Employee"] >= 50_000
        finally:
            await onec.close()
