"""Issue 13, reconciliation: a request whose withdrawal 1C has not answered past ``withdraw_after`` is
reported for the operator, with its id in the ``processes.stalled`` warning; a fresh one is not. A request
cancelled while its submit waited, whose submit was then dead-lettered, gets its withdraw queued once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from structlog.testing import capture_logs

from config.wiring import Store
from connectors.bitrix24.port import Bitrix24Port
from connectors.onec.port import OneCPort
from processes.engine import Event
from processes.onec_outbox import cancel_in
from processes.reconcile import reconcile
from store.models import OutboxMessage
from store.uow import UnitOfWork
from tests.integration.processes._outbox_helpers import CATALOG, T0, approve_all, file_request, submission_for
from webhooks.handlers import ProcessDirectory

EMPLOYEE: dict[str, Any] = {
    "person_ref": "3f0e6a52-8d1c-4a8e-9a51-0d2b4c6e8f10",
    "ref": "5b7d9f1a-3c5e-4a7b-8d9f-1a3c5e7b9d2f",
}


async def test_a_withdrawal_1c_does_not_answer_is_reported(store: Store) -> None:
    rid = file_request(store, "leave", EMPLOYEE)
    approve_all(store, "leave", rid, submission_for(rid, EMPLOYEE))
    with UnitOfWork(store.sessions) as uow:
        uow.processes.apply(CATALOG.entry("leave"), rid, Event("submitted", "bridge:outbox"), T0)
        assert cancel_in(uow, CATALOG, rid, "admin", "дубль", T0).to_state == "withdrawing"
    nothing = cast(Bitrix24Port, None)  # no workflow, stale submit or certificate: neither side is asked
    no_onec = cast(OneCPort, None)

    def run(hours: float) -> Any:
        return reconcile(store.sessions, nothing, no_onec, CATALOG, ProcessDirectory(),
                         clock=lambda: T0 + timedelta(hours=hours))  # fmt: skip

    assert (await run(1)).withdrawing == []
    with capture_logs() as logs:
        report = await run(3)
    assert report.withdrawing == [rid] and report.counts()["withdrawing"] == 1
    [warning] = [e for e in logs if e["event"] == "processes.stalled"]
    assert warning["withdrawing_ids"] == [rid]


async def test_a_withdraw_is_queued_when_the_submit_before_it_was_dead_lettered(store: Store) -> None:
    rid = file_request(store, "leave", EMPLOYEE)
    approve_all(store, "leave", rid, submission_for(rid, EMPLOYEE))
    with UnitOfWork(store.sessions) as uow:
        cancel_in(uow, CATALOG, rid, "admin", "дубль", T0)
    with UnitOfWork(store.sessions) as uow:
        [row] = uow.outbox.claim("onec", lease=timedelta(minutes=5))
        assert row.kind == "SubmitRequest" and uow.outbox.dead_letter(row, "OneCTransportError")

    def run() -> Any:
        return reconcile(store.sessions, cast(Bitrix24Port, None), cast(OneCPort, None), CATALOG,
                         ProcessDirectory(), clock=lambda: T0)  # fmt: skip

    assert (await run()).withdraws_queued == [rid]
    assert (await run()).withdraws_queued == []  # one withdraw per cancel
    with store.sessions() as session:
        rows = session.query(OutboxMessage.kind, OutboxMessage.status).order_by(OutboxMessage.id).all()
    assert [tuple(r) for r in rows] == [("SubmitRequest", "failed"), ("WithdrawRequest", "pending")]
