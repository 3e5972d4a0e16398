"""The provider's approval and its ``SubmitTimesheet`` outbox row are one commit; the submit job delivers
the row to the 1C sandbox, backs off while 1C is down, and dead-letters a row 1C can never take."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from config.settings import OneCSettings, Settings
from config.wiring import Store
from connectors.onec import build_onec
from connectors.onec.connector import OneCConnector, RetryPolicy
from connectors.onec.port import Employee
from core.ids import B24UserId
from portal.access import Principal
from portal.models import PortalSite
from portal.service import PortalService
from portal.store import ONEC_TARGET, SqlPortalData
from processes.outbox_worker import DeliveryPolicy
from sandbox.onec.testing import RunningSandbox, onec_sandbox
from store.models import OutboxMessage
from store.uow import UnitOfWork
from timesheets.model import Day, Timesheet, period_of
from webhooks.timesheet_jobs import submit_approved

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 4, 1, 9, tzinfo=UTC)
FAST = RetryPolicy(attempts=2, initial_wait=0, max_wait=0, jitter=0)
APRIL = period_of("month", date(2026, 4, 1))
PROVIDER = Principal(B24UserId(30), "provider_manager")


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with onec_sandbox(seed=7, employees=60, today=TODAY, frozen_clock=True) as sb:
        yield sb


@pytest.fixture
async def onec(sandbox: RunningSandbox) -> AsyncIterator[OneCConnector]:
    values = {"endpoint": sandbox.endpoint, "username": sandbox.user, "password": sandbox.password}
    connector = build_onec(Settings(onec=OneCSettings(**values)), retry=FAST)
    yield connector
    await connector.close()


async def _awaiting_provider(onec: OneCConnector, store: Store) -> str:
    """A sheet of a real 1C employee, approved by the client, waiting for the provider."""
    employee = None
    async for page in onec.snapshot("Employee"):
        employee = next(
            (r for r in page if isinstance(r, Employee) and r.current and r.current.department_ref), None
        )
        if employee:
            break
    assert employee is not None and employee.current is not None
    site, org = str(employee.current.department_ref), str(employee.current.org_ref)
    days = tuple(
        Day(d, "Я" if d.weekday() < 5 else "В", Decimal(8 if d.weekday() < 5 else 0)) for d in APRIL.days()
    )
    me = Principal(B24UserId(10), "employee", employee_ref=employee.ref, employee_site=site)
    client = Principal(B24UserId(20), "client_manager", roles={site: frozenset({"timesheet_approver"})})
    with UnitOfWork(store.sessions) as uow:
        uow.session.add(PortalSite(site_ref=site, name="Объект", client="Клиент", org_ref=org, settings={}))
        service = PortalService(SqlPortalData(uow.session, outbox=uow.outbox), lambda: NOW)
        service.open_sheet(Timesheet("ts-1", employee.ref, site, org, APRIL, days))
        service.save_days(me, "ts-1", [], submit=True)
        service.approve(client, "ts-1")
    return "ts-1"


def _state(store: Store, sheet_id: str) -> str:
    with store.sessions() as session:
        found = SqlPortalData(session).sheet(sheet_id)
    assert found is not None
    return found.state


def _rows(store: Store) -> list[OutboxMessage]:
    with store.sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.target == ONEC_TARGET)))


async def test_the_approval_and_its_outbox_row_commit_or_roll_back_together(
    onec: OneCConnector, store: Store
) -> None:
    sheet = await _awaiting_provider(onec, store)
    with pytest.raises(RuntimeError), UnitOfWork(store.sessions) as uow:
        PortalService(SqlPortalData(uow.session, outbox=uow.outbox), lambda: NOW).approve(PROVIDER, sheet)
        raise RuntimeError("the request failed after the approval")
    assert _state(store, sheet) == "awaiting:provider" and _rows(store) == []
    with UnitOfWork(store.sessions) as uow:
        PortalService(SqlPortalData(uow.session, outbox=uow.outbox), lambda: NOW).approve(PROVIDER, sheet)
    assert _state(store, sheet) == "approved" and [r.status for r in _rows(store)] == ["pending"]


async def test_a_1c_outage_backs_off_then_delivers_and_a_refusal_is_dead_lettered(
    sandbox: RunningSandbox, onec: OneCConnector, store: Store
) -> None:
    sheet = await _awaiting_provider(onec, store)
    with UnitOfWork(store.sessions) as uow:
        PortalService(SqlPortalData(uow.session, outbox=uow.outbox), lambda: NOW).approve(PROVIDER, sheet)
    policy = DeliveryPolicy(initial_backoff=timedelta(minutes=1))
    sandbox.knobs.fault("sessions_locked", operations=["SubmitTimesheet"], count=None)
    down = await submit_approved(store.sessions, onec, policy=policy)
    assert down["retrying"] == 1 and _state(store, sheet) == "approved"
    [row] = _rows(store)
    assert row.status == "pending" and row.next_attempt_at is not None and row.last_error
    sandbox.knobs.clear_faults()
    assert (await submit_approved(store.sessions, onec, policy=policy))["sent"] == 0  # not due yet
    later = await submit_approved(
        store.sessions, onec, policy=policy, clock=lambda: datetime.now(UTC) + timedelta(hours=1)
    )
    assert later["sent"] == 1 and _state(store, sheet) == "submitted"
    assert [r.status for r in _rows(store)] == ["sent"] and len(sandbox.knobs.timesheets()) == 1

    with UnitOfWork(store.sessions) as uow:  # a row no retry can help: dead-lettered at once
        uow.outbox.add(ONEC_TARGET, "SubmitTimesheet", "broken", {"submissions": [{"request_id": 1}]})
    dead = await submit_approved(store.sessions, onec, policy=policy)
    assert dead["dead"] == 1
    assert sorted(r.status for r in _rows(store)) == ["failed", "sent"]
