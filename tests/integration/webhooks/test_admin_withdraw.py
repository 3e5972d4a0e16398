"""Issue 13, withdrawing from 1C through the admin API, with the bridge served on loopback and the 1C
sandbox: a cancelled submitted leave is withdrawn in 1C and the employee told; a leave HR decided first is
too late (back to ``submitted``, then ``done`` from the feed); a cancel while the submit waits in the
outbox withdraws after it; 1C down while withdrawing doubles nothing; a request 1C refused is sent again."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from config.wiring import Store
from connectors.onec.connector import OneCConnector
from processes.onec_answers import apply_changes
from processes.outbox_worker import DeliveryPolicy, DeliveryReport, deliver_pending
from sandbox.onec.testing import RunningSandbox, onec_sandbox
from store.models import OutboxMessage
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
from tests.integration.webhooks.conftest import ADMIN, ServedBridge

AUTH = {"Authorization": f"Bearer {ADMIN}"}
POLICY = DeliveryPolicy(max_attempts=4, initial_backoff=timedelta(seconds=10), lease=timedelta(minutes=1))
LEAVE = CATALOG.entry("leave")


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with onec_sandbox(seed=11, employees=40, today=TODAY, frozen_clock=True) as sb:
        yield sb


@pytest.fixture
async def onec(sandbox: RunningSandbox) -> AsyncIterator[OneCConnector]:
    connector = onec_connector(sandbox)
    yield connector
    await connector.close()


class Scene:
    def __init__(self, served: ServedBridge, store: Store, sandbox: RunningSandbox, onec: OneCConnector):
        self.served, self.store, self.sandbox, self.onec = served, store, sandbox, onec
        self.clock = FakeClock()
        self.employee = active_employees(sandbox, 1)[0]

    def approved(self, employee: dict[str, Any] | None = None) -> str:
        rid = file_request(self.store, "leave", self.employee)
        approve_all(self.store, "leave", rid, submission_for(rid, employee or self.employee))
        return rid

    async def deliver(self) -> DeliveryReport:
        return await deliver_pending(self.store.sessions, self.onec, CATALOG, policy=POLICY, clock=self.clock)

    async def submitted(self) -> str:
        rid = self.approved()
        assert (await self.deliver()).sent == [rid]
        return rid

    def cancel(self, rid: str) -> Any:
        return self.served.http.post(
            f"/admin/processes/{rid}/cancel", json={"reason": "отпуск не нужен"}, headers=AUTH
        )

    def history(self, rid: str) -> dict[str, Any]:
        body: dict[str, Any] = self.served.http.get(f"/admin/processes/{rid}", headers=AUTH).json()
        assert body["chain"]["verified"] is True
        return body

    def in_1c(self, rid: str) -> list[dict[str, Any]]:
        return [r for r in self.sandbox.knobs.requests() if r["request_id"] == rid]

    def told(self) -> list[str]:
        with self.store.sessions() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "im.notify"))
            return [str(r.payload["message"]) for r in rows]


@pytest.fixture
def scene(served: ServedBridge, store: Store, sandbox: RunningSandbox, onec: OneCConnector) -> Scene:
    return Scene(served, store, sandbox, onec)


async def test_a_cancelled_submitted_leave_is_withdrawn_in_1c_and_the_employee_told(scene: Scene) -> None:
    rid = await scene.submitted()
    answer = scene.cancel(rid)
    assert (answer.status_code, answer.json()["state"]) == (202, "withdrawing")
    assert [d["kind"] for d in scene.history(rid)["deliveries"]] == ["SubmitRequest", "WithdrawRequest"]
    report = await scene.deliver()
    assert report.withdrawn == [rid]
    [document] = scene.in_1c(rid)
    assert document["status"] == "Withdrawn" and document["reason"] == "отпуск не нужен"
    body = scene.history(rid)
    assert [t["to_state"] for t in body["transitions"][-2:]] == ["withdrawing", "cancelled"]
    assert body["transitions"][-1]["data"]["status"] == "Withdrawn"
    assert scene.told()[-1] == "Заявление на отпуск отозвано из отдела кадров: отпуск не нужен"
    # 1C's feed then says Withdrawn too: nothing moves twice; a second cancel is refused
    batch = await scene.onec.changes(0)
    assert apply_changes(scene.store.sessions, CATALOG, batch) == []
    assert scene.cancel(rid).status_code == 409
    assert scene.sandbox.knobs.stats()["calls"]["WithdrawRequest"] == 1


async def test_too_late_when_hr_decided_first_then_done_from_the_feed(scene: Scene) -> None:
    rid = await scene.submitted()
    scene.sandbox.knobs.decide(rid)  # HR approved it and posted the absence before the cancel
    assert scene.cancel(rid).status_code == 202
    report = await scene.deliver()
    assert report.too_late == [rid] and report.withdrawn == []
    body = scene.history(rid)
    back = body["transitions"][-1]
    assert (back["from_state"], back["to_state"], back["data"]["status"]) == (
        "withdrawing",
        "submitted",
        "TooLate",
    )
    assert "отмену отпуска" in back["reason"]
    assert "подайте заявление на отмену отпуска" in scene.told()[-1]
    assert scene.in_1c(rid)[0]["status"] == "Approved"
    moved = apply_changes(scene.store.sessions, CATALOG, await scene.onec.changes(0))
    assert [(r.request_id, r.to_state) for r in moved] == [(rid, "done")]


async def test_a_cancel_while_approved_submits_then_withdraws_in_that_order(scene: Scene) -> None:
    rid = scene.approved()
    answer = scene.cancel(rid)
    assert (answer.status_code, answer.json()["state"]) == (202, "withdrawing")
    assert [(d["kind"], d["status"]) for d in scene.history(rid)["deliveries"]] == [
        ("SubmitRequest", "pending")
    ]
    first = await scene.deliver()
    assert first.sent == [rid] and first.withdrawn == []
    assert scene.in_1c(rid)[0]["status"] == "InReview"  # the submit reached 1C first
    deliveries = scene.history(rid)["deliveries"]
    assert [(d["kind"], d["status"]) for d in deliveries] == [
        ("SubmitRequest", "sent"),
        ("WithdrawRequest", "pending"),
    ]
    second = await scene.deliver()
    assert second.withdrawn == [rid]
    assert [r["status"] for r in scene.in_1c(rid)] == ["Withdrawn"]
    states = [t["to_state"] for t in scene.history(rid)["transitions"][-3:]]
    assert states == ["withdrawing", "withdrawing", "cancelled"]  # cancel, submit settled, withdrawn


async def test_1c_down_while_withdrawing_is_retried_and_nothing_doubles(scene: Scene) -> None:
    rid = await scene.submitted()
    scene.sandbox.knobs.fault("sessions_locked", operations=["WithdrawRequest"], count=None)
    assert scene.cancel(rid).status_code == 202
    down = await scene.deliver()
    assert down.retrying == 1 and scene.history(rid)["state"] == "withdrawing"
    [row] = [d for d in scene.history(rid)["deliveries"] if d["kind"] == "WithdrawRequest"]
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "OneCSessionsLocked")
    scene.sandbox.knobs.clear_faults()
    await scene.onec.withdraw_request(rid, "отпуск не нужен")  # a worker sent it, then died unsettled
    assert (await scene.deliver()).withdrawn == []  # backing off
    scene.clock.advance(seconds=10)
    report = await scene.deliver()
    assert report.withdrawn == [rid]
    assert scene.history(rid)["transitions"][-1]["data"]["status"] == "AlreadyWithdrawn"
    assert [r["status"] for r in scene.in_1c(rid)] == ["Withdrawn"]
    assert len(scene.told()) == 1  # one message for one withdrawal


async def test_a_request_1c_refused_is_sent_again_once(scene: Scene) -> None:
    people = scene.sandbox.state.company.tables["Person"]
    person = people.by_ref[scene.employee["person_ref"]]
    people.remove(person.ref)  # the person's card is missing in 1C: PERSON_NOT_FOUND
    rid = scene.approved()
    assert (await scene.deliver()).refused == [rid]
    assert scene.in_1c(rid) == []  # a refusal stores nothing in 1C
    http = scene.served.http
    stalled = http.post(
        f"/admin/processes/{file_request(scene.store, 'leave', scene.employee)}/retry", headers=AUTH
    )
    assert (stalled.status_code, stalled.json()["error"]) == (409, "nothing_to_retry")
    people.add(person.ref, person)  # HR fixed the card
    answer = http.post(f"/admin/processes/{rid}/retry", headers=AUTH)
    assert answer.status_code == 200 and len(answer.json()["requeued"]) == 1
    again = http.post(f"/admin/processes/{rid}/retry", headers=AUTH)  # a second admin, a moment later
    assert (again.status_code, again.json()["error"]) == (409, "nothing_to_retry")
    body = scene.history(rid)
    assert [t["to_state"] for t in body["transitions"][-2:]] == ["failed", "approved"]
    assert [(d["kind"], d["status"]) for d in body["deliveries"] if d["target"] == "onec"] == [
        ("SubmitRequest", "sent"),
        ("SubmitRequest", "pending"),
    ]
    assert (await scene.deliver()).sent == [rid]
    assert len(scene.in_1c(rid)) == 1 and scene.history(rid)["state"] == "submitted"
    assert scene.sandbox.knobs.stats()["calls"]["SubmitRequest"] == 2


async def test_two_admins_retrying_at_once_queue_one_submit(scene: Scene) -> None:
    stranger = {**scene.employee, "person_ref": "00000000-0000-0000-0000-000000000000"}
    rid = scene.approved(stranger)
    assert (await scene.deliver()).refused == [rid]
    start = threading.Barrier(2)
    answers: list[int] = []

    def retry() -> None:
        with httpx.Client(base_url=scene.served.url, timeout=30) as http:
            start.wait()
            answers.append(http.post(f"/admin/processes/{rid}/retry", headers=AUTH).status_code)

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 409]
    submits = [d for d in scene.history(rid)["deliveries"] if d["kind"] == "SubmitRequest"]
    assert [d["status"] for d in submits] == ["sent", "pending"]
    assert [t["to_state"] for t in scene.history(rid)["transitions"][-2:]] == ["failed", "approved"]
