"""The 1C outbox worker against the 1C sandbox over HTTP, on the test database (SQLite or PostgreSQL):
one commit for the approval and its row, backoff while 1C is down, dead letters, no double sends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from config.wiring import Store
from connectors.onec.connector import OneCConnector
from processes.engine import Event, IllegalTransition
from processes.onec_outbox import approve, dedup_key
from processes.outbox_worker import DeliveryPolicy, deliver_pending
from sandbox.onec.testing import RunningSandbox, onec_sandbox
from store.models import OutboxMessage
from store.outbox import Outbox
from store.process_repo import ProcessRepository
from tests.integration.processes._outbox_helpers import (
    CATALOG,
    T0,
    TODAY,
    FakeClock,
    active_employees,
    approve_all,
    file_request,
    onec_connector,
    submission_for,
)

POLICY = DeliveryPolicy(max_attempts=4, initial_backoff=timedelta(seconds=10), lease=timedelta(minutes=1))


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with onec_sandbox(seed=11, employees=40, today=TODAY, frozen_clock=True) as sb:
        yield sb


@pytest.fixture
async def onec(sandbox: RunningSandbox) -> AsyncIterator[OneCConnector]:
    connector = onec_connector(sandbox)
    yield connector
    await connector.close()


def _rows(store: Store) -> list[OutboxMessage]:
    with store.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _state(store: Store, request_id: str) -> str:
    with store.sessions() as session:
        instance = ProcessRepository(session).get(request_id)
        assert instance is not None
        return instance.state


def _submitted_in_1c(sb: RunningSandbox, request_id: str) -> int:
    return sum(1 for r in sb.knobs.requests() if r["request_id"] == request_id)


def test_the_approval_and_its_row_are_one_commit(store: Store, sandbox: RunningSandbox) -> None:
    employee = active_employees(sandbox, 1)[0]
    rid = file_request(store, "leave", employee)
    submission = submission_for(rid, employee)
    approve(store.sessions, CATALOG, rid, Event("approve", "user_12", step="client"), T0, submission)
    assert _rows(store) == []  # one step still to go: nothing for 1C yet
    with pytest.raises(IllegalTransition):  # a stale call-out for the wrong step writes nothing
        approve(store.sessions, CATALOG, rid, Event("approve", "u", step="client"), T0, submission)
    approve(store.sessions, CATALOG, rid, Event("approve", "user_13", step="provider"), T0, submission)
    rows = _rows(store)
    assert [(r.target, r.kind, r.dedup_key, r.status) for r in rows] == [
        ("onec", "SubmitRequest", dedup_key(rid), "pending")
    ]
    assert rows[0].payload["request_id"] == rid and rows[0].payload["date_from"] == "2026-05-01"
    assert _state(store, rid) == "approved"


async def test_1c_down_for_a_while_then_back_loses_nothing_and_doubles_nothing(
    store: Store, sandbox: RunningSandbox, onec: OneCConnector
) -> None:
    employees = active_employees(sandbox, 3)
    rids = [file_request(store, "leave", e) for e in employees]
    for rid, employee in zip(rids, employees, strict=True):
        approve_all(store, "leave", rid, submission_for(rid, employee))
    clock = FakeClock()
    sandbox.knobs.fault("sessions_locked", operations=["SubmitRequest"], count=None)

    report = await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)
    assert report.retrying == 3 and report.sent == []
    assert {r.status for r in _rows(store)} == {"pending"}
    assert all(r.last_error == "OneCSessionsLocked" and r.attempts == 1 for r in _rows(store))
    calls = sandbox.knobs.stats()["calls"]["SubmitRequest"]
    again = await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)
    assert again.retrying == 0 and sandbox.knobs.stats()["calls"]["SubmitRequest"] == calls  # backing off

    clock.advance(seconds=10)  # first backoff over, 1C still down: the next wait doubles
    await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)
    assert all(r.attempts == 2 and r.next_attempt_at is not None for r in _rows(store))
    clock.advance(seconds=10)
    assert (await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)).retrying == 0

    sandbox.knobs.clear_faults()  # 1C is back
    sandbox.knobs.fault("drop", operations=["SubmitRequest"], count=1)  # and drops one more connection
    clock.advance(seconds=10)
    first = await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)
    assert len(first.sent) == 2 and first.retrying == 1  # the dropped one waits 40 s (its third try)
    clock.advance(seconds=30)
    assert (await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)).sent == []
    clock.advance(seconds=10)
    second = await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)
    assert sorted(first.sent + second.sent) == sorted(rids)
    assert all(_submitted_in_1c(sandbox, rid) == 1 for rid in rids)
    assert {r.status for r in _rows(store)} == {"sent"}
    assert {_state(store, rid) for rid in rids} == {"submitted"}
    with store.sessions() as session:
        repo = ProcessRepository(session)
        last = repo.history(rids[0])[-1]
        assert last.actor == "bridge:outbox" and last.data["doc_ref"] and repo.verify(rids[0]) is None
    clock.advance(hours=2)
    assert (await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)).sent == []


async def test_a_row_is_dead_lettered_after_the_limit_with_an_alert(
    store: Store, sandbox: RunningSandbox, onec: OneCConnector
) -> None:
    employee = active_employees(sandbox, 1)[0]
    rid = file_request(store, "leave", employee)
    approve_all(store, "leave", rid, submission_for(rid, employee))
    clock = FakeClock()
    sandbox.knobs.fault("proxy_502", operations=["SubmitRequest"], count=None)
    with capture_logs() as logs:
        for _ in range(POLICY.max_attempts):
            await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)
            clock.advance(hours=1)
    [row] = _rows(store)
    assert row.status == "failed" and row.attempts == POLICY.max_attempts
    alerts = [e for e in logs if e["log_level"] == "error"]
    assert [a["event"] for a in alerts] == ["outbox.dead_letter"]
    assert alerts[0]["message_id"] == row.id and alerts[0]["kind"] == "SubmitRequest"
    assert employee["person_ref"] not in repr(logs) and rid not in repr(logs)  # no personal data
    assert _state(store, rid) == "approved"  # nothing pretends 1C has it
    with store.sessions.begin() as session:
        assert Outbox(session).counts("onec") == {"failed": 1}
        assert Outbox(session).requeue(row.id)  # the operator's retry, once 1C works again
    sandbox.knobs.clear_faults()
    report = await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)
    assert report.sent == [rid] and _submitted_in_1c(sandbox, rid) == 1


async def test_a_refusal_by_1c_fails_the_request_and_tells_the_employee(
    store: Store, sandbox: RunningSandbox, onec: OneCConnector
) -> None:
    employee = active_employees(sandbox, 1)[0]
    rid = file_request(store, "leave", employee)
    stranger = {**employee, "person_ref": "00000000-0000-0000-0000-000000000000"}
    approve_all(store, "leave", rid, submission_for(rid, stranger))
    report = await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=FakeClock())
    assert report.refused == [rid] and _state(store, rid) == "failed"
    rows = _rows(store)
    assert [(r.target, r.kind, r.status) for r in rows] == [
        ("onec", "SubmitRequest", "sent"),
        ("bitrix24", "im.notify", "pending"),
    ]
    assert "PERSON_NOT_FOUND" in rows[1].payload["message"] and rows[1].payload["to"] == 7


async def test_a_worker_that_died_after_sending_is_taken_over_without_a_second_document(
    store: Store, sandbox: RunningSandbox, onec: OneCConnector
) -> None:
    employee = active_employees(sandbox, 1)[0]
    rid = file_request(store, "leave", employee)
    approve_all(store, "leave", rid, submission_for(rid, employee))
    clock = FakeClock()
    with store.sessions.begin() as session:
        [dead_claim] = Outbox(session).claim("onec", lease=POLICY.lease, now=clock())
    await onec.submit_request(submission_for(rid, employee))  # it sent, then died before settling
    assert (await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)).sent == []
    clock.advance(minutes=2)  # the lease ran out
    report = await deliver_pending(store.sessions, onec, CATALOG, policy=POLICY, clock=clock)
    assert report.sent == [rid] and _submitted_in_1c(sandbox, rid) == 1
    with store.sessions.begin() as session:
        assert not Outbox(session).settle_sent(dead_claim)  # the stale claim cannot settle it again


def test_two_concurrent_workers_never_send_one_row_twice(store: Store, sandbox: RunningSandbox) -> None:
    employees = active_employees(sandbox, 12)
    rids = [file_request(store, "leave", e) for e in employees]
    for rid, employee in zip(rids, employees, strict=True):
        approve_all(store, "leave", rid, submission_for(rid, employee))
    small = DeliveryPolicy(batch=2, lease=timedelta(minutes=10))
    start = threading.Barrier(2)
    sent: list[list[str]] = [[], []]

    async def work(index: int) -> None:
        connector = onec_connector(sandbox)
        try:
            start.wait()
            while (report := await deliver_pending(store.sessions, connector, CATALOG, policy=small)).sent:
                sent[index].extend(report.sent)
        finally:
            await connector.close()

    threads = [threading.Thread(target=asyncio.run, args=(work(i),)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent[0] + sent[1]) == sorted(rids)  # every row once, none twice
    assert sandbox.knobs.stats()["calls"]["SubmitRequest"] == len(rids)
    assert all(_submitted_in_1c(sandbox, rid) == 1 for rid in rids)
