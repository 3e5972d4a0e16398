"""Issue 13, the service's side: the scheduled jobs carry a request (the same ``processes`` job the service
runs), 1C's change feed records a certificate's status before the mirror acknowledges the batch and the
PDF still reaches Drive, the Bitrix24 sender gets past a busy portal and dead-letters what no retry can
change, and the reconciliation cancels a request whose workflow Bitrix24 ended and reminds a silent
approver."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import select

from config.wiring import open_bridge
from connectors.bitrix24.factory import build_bitrix24
from connectors.bitrix24.gateway import Bitrix24Gateway, RetryPolicy
from connectors.onec.port import OneCPort
from processes.answers import queue_answer
from processes.b24_sender import send_pending
from processes.onec_answers import AnsweringFeed
from processes.outbox_worker import DeliveryPolicy
from processes.reconcile import reconcile
from sandbox.bitrix24.params import encode_form
from store.models import AppToken, OutboxMessage, ProcessInstance
from store.process_repo import ProcessRepository
from store.uow import UnitOfWork
from tests.integration.processes._flow import CATALOG, World
from webhooks.handlers import ProcessDirectory
from webhooks.jobs import schedule_jobs
from webhooks.scheduler import JobScheduler

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LEAVE = {"leave_kind": "annual", "date_from": "2026-07-01", "date_to": "2026-07-10"}


def _instance(w: World, element: int) -> ProcessInstance:
    with w.store.sessions() as session:
        found = session.scalar(select(ProcessInstance).where(ProcessInstance.b24_element_id == element))
        assert found is not None
        session.expunge(found)
        return found


def _events(w: World, request_id: str) -> list[str]:
    with w.store.sessions() as session:
        return [str(t.data.get("event")) for t in ProcessRepository(session).history(request_id)]


async def test_the_service_jobs_carry_a_leave_to_1c(w: World) -> None:
    assert w.settings is not None
    bridge = open_bridge(w.settings, w.store)
    scheduler = JobScheduler(w.store.sessions, "instance-a")
    try:
        schedule_jobs(scheduler, bridge)
        assert {"processes", "request_answers", "process_reconcile"} <= set(scheduler.status())

        async def tick() -> None:
            for _ in range(6):
                w.flush()
                scheduler._jobs["processes"].cooldown = timedelta(0)  # ticks back to back in a test
                run = await scheduler.run_job("processes")
                assert run.outcome == "ok", run

        element = w.file("leave", LEAVE)
        await tick()
        assert w.decide(w.client) == 1
        await tick()
        assert w.decide(w.manager) == 1
        await tick()
        request = _instance(w, element)
        assert request.state == "submitted"
        assert [r["kind"] for r in w.onec_sb.knobs.requests()] == ["Leave"]
        reconciled = await scheduler.run_job("process_reconcile")
        assert reconciled.outcome == "ok" and reconciled.counts["cancelled"] == 0
    finally:
        await bridge.close()


async def test_the_feed_records_a_status_before_the_ack_and_the_pdf_still_reaches_drive(w: World) -> None:
    element = w.file("certificate", {"certificate_kind": "income_2ndfl", "year": "2025", "purpose": "Виза"})
    await w.pump()
    w.decide(w.manager)
    await w.pump()
    request = _instance(w, element)
    assert [r["kind"] for r in w.onec_sb.knobs.requests()] == ["IncomeCertificate"]
    ack = 0
    while (batch := await w.onec.changes(ack)).has_more:
        ack = batch.message_no
    ack = batch.message_no
    w.onec_sb.knobs.decide(request.request_id)
    feed = cast(OneCPort, AnsweringFeed(w.onec, w.store.sessions, CATALOG))
    batch = await feed.changes(ack)  # what the mirror reads before it acknowledges
    assert _instance(w, element).state == "done"
    await feed.changes(ack)  # the same feed read again (a batch the mirror did not acknowledge)
    assert batch.items and _events(w, request.request_id).count("onec_done") == 1
    await w.pump(onec=False)  # no GetDocument poll: the feed path queued the upload
    done = _instance(w, element)
    assert done.data.get("drive_file_url") and done.data.get("drive_file_id")
    assert any(done.data["drive_file_url"] in m for m in w.notifications(w.employee.uid))


async def test_the_sender_gets_past_a_busy_portal_and_dead_letters_a_refused_answer(w: World) -> None:
    with UnitOfWork(w.store.sessions) as uow:
        queue_answer(uow, "eb_submit_to_1c", "1.2|A_submit|" + "x" * 32 + ".00", {"Accepted": "Y"}, "test")
        uow.outbox.add("bitrix24", "im.notify", "bitrix24:im.notify:test:1",
                       {"request_id": "test", "to": w.employee.uid, "message": "Проверка"})  # fmt: skip
    w.b24.knobs.system_error("QUERY_LIMIT_EXCEEDED", method="im.notify.system.add", count=1)  # busy once
    quick = DeliveryPolicy(initial_backoff=timedelta(0), max_attempts=3)
    first = await send_pending(w.store.sessions, w.gateway, CATALOG, policy=quick)
    second = await send_pending(w.store.sessions, w.gateway, CATALOG, policy=quick)
    with w.store.sessions() as session:
        rows = {r.kind: (r.status, r.last_error) for r in session.scalars(select(OutboxMessage))}
    assert rows["bizproc.event.send"] == ("failed", "ACCESS_DENIED"), rows  # no workflow has this token
    assert rows["im.notify"][0] == "sent" and first.dead == 1
    assert sum(first.sent.values()) + sum(second.sent.values()) == 1
    assert w.notifications(w.employee.uid).count("Проверка") == 1


@dataclass
class Later:
    at: datetime

    def __call__(self) -> datetime:
        return self.at


async def test_reconcile_cancels_a_request_whose_workflow_ended_and_reminds_the_silent(w: World) -> None:
    ended, silent = (
        w.file("leave", LEAVE),
        w.file("sick_notice", {"date_from": "2026-03-02", "date_to": "2026-03-03"}),
    )
    await w.pump()
    gone = _instance(w, ended)
    w.rest(w.admin, "bizproc.workflow.terminate", {"ID": gone.b24_workflow_id, "STATUS": "Отменено"})
    waiting = _instance(w, silent)
    assert waiting.state == "awaiting:client"
    # sick_notice's client step has no remind_after_hours; the leave's has 24 h: remind needs a leave.
    third = w.file("leave", {**LEAVE, "date_from": "2026-08-03", "date_to": "2026-08-07"})
    await w.pump()
    later = Later(datetime.now(UTC) + timedelta(hours=25))
    report = await reconcile(w.store.sessions, w.gateway, w.onec, CATALOG, ProcessDirectory(), clock=later)
    assert report.cancelled == [gone.request_id]
    assert _events(w, gone.request_id)[-1] == "cancel"
    assert report.reminded == [_instance(w, third).request_id]
    again = await reconcile(w.store.sessions, w.gateway, w.onec, CATALOG, ProcessDirectory(), clock=later)
    assert again.cancelled == [] and again.reminded == []  # once per reminder period
    await w.pump(onec=False)
    assert any(m.startswith("Напоминание") for m in w.notifications(w.client.uid))


async def test_reconcile_answers_a_call_out_the_bridge_could_not_handle(w: World) -> None:
    token = "67a2ffdb2c57a3.35276854|A_submit|" + "c" * 32 + ".0123456789abcdef"
    broken = {
        "workflow_id": "67a2ffdb2c57a3.35276854",
        "code": "eb_submit_to_1c",
        "event_token": token,
        "document_id": ["lists", "BizprocDocument", "notanelement"],
        "use_subscription": "Y",
        "properties": {"RequestKind": "leave"},
        "auth": {"application_token": _app_token(w)},
    }
    answer = w.http.post(f"{w.bridge_url}/bitrix24/activity", content=encode_form(broken), headers=FORM)
    assert answer.status_code == 200
    await w.pump(onec=False)
    report = await reconcile(w.store.sessions, w.gateway, w.onec, CATALOG, ProcessDirectory())
    assert len(report.failed_callouts) == 1
    with w.store.sessions() as session:
        [row] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "bizproc.event.send")).all()
        assert row.payload["EVENT_TOKEN"] == token and row.payload["RETURN_VALUES"]["Accepted"] == "N"
    again = await reconcile(w.store.sessions, w.gateway, w.onec, CATALOG, ProcessDirectory())
    assert again.failed_callouts == []


def _app_token(w: World) -> str:
    with w.store.sessions() as session:
        token = session.scalar(select(AppToken.application_token))
        assert token
        return str(token)


def _fast_gateway(w: World) -> Bitrix24Gateway:
    """The connector without its own quick retries: every refusal reaches the sender."""
    assert w.settings is not None
    return build_bitrix24(
        w.settings, w.store, retry=RetryPolicy(attempts=1, initial_seconds=0, max_seconds=0)
    )


def _queue_notice(w: World, n: int) -> None:
    payload = {"request_id": "test", "to": w.employee.uid, "message": f"Проверка {n}"}
    with UnitOfWork(w.store.sessions) as uow:
        uow.outbox.add("bitrix24", "im.notify", f"bitrix24:im.notify:test:{n}", payload)


async def test_the_sender_backs_off_while_refused_and_dead_letters_after_the_policy(w: World) -> None:
    policy = DeliveryPolicy(initial_backoff=timedelta(0), max_attempts=3)
    _queue_notice(w, 1)
    _queue_notice(w, 2)
    gateway = _fast_gateway(w)
    try:
        w.b24.knobs.system_error("QUERY_LIMIT_EXCEEDED", method="im.notify.system.add", count=3)
        passes = [await send_pending(w.store.sessions, gateway, CATALOG, policy=policy) for _ in range(3)]
    finally:
        await gateway.close()
    assert [p.retrying for p in passes] == [2, 1, 0] and [p.dead for p in passes] == [0, 0, 0]
    assert sum(p.sent.get("im.notify", 0) for p in passes) == 2
    told = sorted(m for m in w.notifications(w.employee.uid) if m.startswith("Проверка"))
    assert told == ["Проверка 1", "Проверка 2"]
    _queue_notice(w, 3)
    w.b24.knobs.system_error("QUERY_LIMIT_EXCEEDED", method="im.notify.system.add", count=10)
    gateway = _fast_gateway(w)
    try:
        dead = [await send_pending(w.store.sessions, gateway, CATALOG, policy=policy) for _ in range(3)]
    finally:
        await gateway.close()
        w.b24.knobs.system_error(None)
    assert [p.dead for p in dead] == [0, 0, 1]
    with w.store.sessions() as session:
        key = OutboxMessage.dedup_key == "bitrix24:im.notify:test:3"
        row = session.scalar(select(OutboxMessage).where(key))
        assert row is not None
        assert (row.status, row.last_error, row.attempts) == ("failed", "QUERY_LIMIT_EXCEEDED", 3)
