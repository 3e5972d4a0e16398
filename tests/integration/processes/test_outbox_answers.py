"""1C's answers move requests on (against the 1C sandbox over HTTP): done or rejected by HR with the
employee's message queued for Bitrix24 in the same commit, and a certificate's PDF queued for Drive."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select

from config.wiring import Store
from connectors.onec.connector import OneCConnector
from connectors.onec.port import TRequestKind
from processes.onec_answers import apply_changes, poll_submitted
from processes.outbox_worker import deliver_pending
from sandbox.onec.testing import RunningSandbox, onec_sandbox
from store.models import OutboxMessage
from store.process_repo import ProcessRepository
from tests.integration.processes._outbox_helpers import (
    CATALOG,
    TODAY,
    FakeClock,
    active_employees,
    approve_all,
    file_request,
    onec_connector,
    submission_for,
)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with onec_sandbox(seed=5, employees=30, today=TODAY, frozen_clock=True) as sb:
        yield sb


@pytest.fixture
async def onec(sandbox: RunningSandbox) -> AsyncIterator[OneCConnector]:
    connector = onec_connector(sandbox)
    yield connector
    await connector.close()


async def _submitted(store: Store, sb: RunningSandbox, onec: OneCConnector, kind: str) -> str:
    employee = active_employees(sb, 1)[0]
    rid = file_request(store, kind, employee)
    onec_kind: TRequestKind = "Leave" if kind == "leave" else "Certificate"
    approve_all(store, kind, rid, submission_for(rid, employee, onec_kind))
    assert (await deliver_pending(store.sessions, onec, CATALOG)).sent == [rid]
    return rid


def _bitrix_rows(store: Store) -> list[OutboxMessage]:
    with store.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.target == "bitrix24").order_by(OutboxMessage.id)
        return list(session.scalars(query))


def _history(store: Store, rid: str) -> list[tuple[str | None, str, str | None]]:
    with store.sessions() as session:
        repo = ProcessRepository(session)
        assert repo.verify(rid) is None
        return [(t.from_state, t.to_state, t.reason) for t in repo.history(rid)]


async def _drain(onec: OneCConnector) -> int:
    ack = 0
    while True:
        batch = await onec.changes(ack)
        ack = batch.message_no
        if not batch.has_more:
            return ack


async def test_a_rejection_in_the_change_feed_moves_the_request_and_tells_the_employee(
    store: Store, sandbox: RunningSandbox, onec: OneCConnector
) -> None:
    rid = await _submitted(store, sandbox, onec, "leave")
    ack = await _drain(onec)
    sandbox.knobs.decide(rid, "Rejected", reason="Период пересекается с командировкой")
    batch = await onec.changes(ack)
    moved = apply_changes(store.sessions, CATALOG, batch, clock=FakeClock())
    assert [(t.to_state, t.actor) for t in moved] == [("rejected", "onec")]
    assert _history(store, rid)[-1] == ("submitted", "rejected", "Период пересекается с командировкой")
    [notify] = _bitrix_rows(store)
    assert notify.kind == "im.notify" and notify.status == "pending" and notify.payload["to"] == 7
    assert notify.payload["message"] == "Отпуск не согласован: Период пересекается с командировкой"
    assert apply_changes(store.sessions, CATALOG, batch, clock=FakeClock()) == []  # redelivered batch
    assert len(_history(store, rid)) == 6 and len(_bitrix_rows(store)) == 1


async def test_a_certificate_ends_done_with_its_pdf_queued_for_drive(
    store: Store, sandbox: RunningSandbox, onec: OneCConnector
) -> None:
    rid = await _submitted(store, sandbox, onec, "certificate")
    clock = FakeClock()
    first = await poll_submitted(store.sessions, onec, CATALOG, clock=clock)
    second = await poll_submitted(store.sessions, onec, CATALOG, clock=clock)
    assert [(t.from_state, t.to_state) for t in first] == [("submitted", "submitted")]  # in review, once
    assert second == [] and _bitrix_rows(store) == []  # "in review" tells the employee nothing

    sandbox.knobs.decide(rid, "Approved")
    done = await poll_submitted(store.sessions, onec, CATALOG, clock=clock)
    assert [t.to_state for t in done] == ["done"]
    notify, upload = _bitrix_rows(store)
    assert (
        notify.kind == "im.notify"
        and notify.payload["message"] == CATALOG.entry("certificate").messages["done"]
    )
    assert upload.kind == "disk.folder.uploadfile" and upload.payload["file_name"].endswith(".pdf")
    assert base64.b64decode(upload.payload["content_b64"]).startswith(b"%PDF")
    assert await poll_submitted(store.sessions, onec, CATALOG, clock=clock) == []  # nothing left to ask
    assert len(_bitrix_rows(store)) == 2


async def test_a_leave_done_in_1c_is_done_for_the_employee(
    store: Store, sandbox: RunningSandbox, onec: OneCConnector
) -> None:
    rid = await _submitted(store, sandbox, onec, "leave")
    sandbox.knobs.decide(rid, "Approved")
    moved = await poll_submitted(store.sessions, onec, CATALOG, clock=FakeClock())
    assert [t.to_state for t in moved] == ["done"]
    assert [r.kind for r in _bitrix_rows(store)] == ["im.notify"]  # no PDF for a leave
    assert _bitrix_rows(store)[0].payload["message"] == CATALOG.entry("leave").messages["done"]
