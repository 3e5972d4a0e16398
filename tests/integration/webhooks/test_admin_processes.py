"""Issue 13, the admin API of HR requests over HTTP: listing with filters and pages, one request's history
with its hash chain checked (and a tampered one caught), stalled requests by the catalog's deadlines and
dead-lettered deliveries, retry through the outbox, cancel through the engine (409 where it may not)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from config.wiring import Store
from core.clock import utcnow
from processes.catalog import default_catalog
from processes.engine import Event
from store.models import OutboxMessage
from store.uow import UnitOfWork
from tests.integration.webhooks.conftest import ADMIN, ServedBridge

AUTH = {"Authorization": f"Bearer {ADMIN}"}
CATALOG = default_catalog()
LEAVE = CATALOG.entry("leave")
CERTIFICATE = CATALOG.entry("certificate")


def _file(store: Store, request_id: str, kind: str, at: datetime, *events: Event) -> None:
    entry = CATALOG.entry(kind)
    with UnitOfWork(store.sessions) as uow:
        uow.processes.open(
            entry, request_id=request_id, event=Event("receive", "employee:7", "filed"), at=at, site_ref="d-1"
        )
        for event in events:
            uow.processes.apply(entry, request_id, event, at)


def _dead_letter(store: Store, request_id: str) -> int:
    key = f"onec:SubmitRequest:{request_id}"
    with UnitOfWork(store.sessions) as uow:
        uow.outbox.add("onec", "SubmitRequest", key, {"request_id": request_id})
    with UnitOfWork(store.sessions) as uow:
        [row] = uow.outbox.claim("onec", lease=timedelta(minutes=5))
        assert uow.outbox.dead_letter(row, "OneCTransportError")
    return row.id


@pytest.fixture
def requests(store: Store) -> dict[str, str]:
    """Five requests: stalled at the client's approval, fresh, ended, a stalled certificate, one approved
    whose 1C delivery was dead-lettered."""
    now = utcnow()
    old = now - timedelta(hours=LEAVE.approvals[0].deadline_hours + 1)
    _file(store, "r-stalled", "leave", old, Event("validated", "bridge"))
    _file(store, "r-fresh", "leave", now, Event("validated", "bridge"))
    _file(store, "r-ended", "leave", old - timedelta(days=30), Event("cancel", "employee:7", "передумал"))
    cert_deadline = CERTIFICATE.approvals[0].deadline_hours
    _file(
        store, "r-cert", "certificate", now - timedelta(hours=cert_deadline + 2), Event("validated", "bridge")
    )
    _file(
        store,
        "r-dead",
        "leave",
        now - timedelta(minutes=5),
        Event("validated", "bridge"),
        Event("approve", "client:3", step="client"),
        Event("approve", "manager:4", step="provider"),
    )
    return {"dead_message": str(_dead_letter(store, "r-dead"))}


def test_listing_filters_and_pages(served: ServedBridge, requests: dict[str, str]) -> None:
    http = served.http
    assert http.get("/admin/processes").status_code == 401
    everything = http.get("/admin/processes", headers=AUTH).json()
    assert everything["total"] == 5
    assert [i["request_id"] for i in everything["items"]] == [
        "r-dead",
        "r-cert",
        "r-ended",
        "r-fresh",
        "r-stalled",
    ]
    leaves = http.get("/admin/processes", params={"kind": "leave", "limit": 2, "offset": 1}, headers=AUTH)
    page = leaves.json()
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    assert [i["request_id"] for i in page["items"]] == ["r-ended", "r-fresh"]
    waiting = http.get("/admin/processes", params={"state": "awaiting:client"}, headers=AUTH).json()
    assert {i["request_id"] for i in waiting["items"]} == {"r-stalled", "r-fresh"}
    assert http.get("/admin/processes", params={"limit": 0}, headers=AUTH).status_code == 422


def test_history_shows_who_when_why_and_the_verified_chain(
    served: ServedBridge, store: Store, requests: dict[str, str]
) -> None:
    answer = served.http.get("/admin/processes/r-dead", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "approved" and body["kind"] == "leave"
    assert [(t["seq"], t["from_state"], t["to_state"], t["actor"]) for t in body["transitions"]] == [
        (1, None, "received", "employee:7"),
        (2, "received", "awaiting:client", "bridge"),
        (3, "awaiting:client", "awaiting:provider", "client:3"),
        (4, "awaiting:provider", "approved", "manager:4"),
    ]
    assert body["transitions"][0]["reason"] == "filed"
    assert body["transitions"][0]["at"].endswith(("+00:00", "Z"))
    assert body["chain"] == {"verified": True, "broken_at": None, "problem": None}
    [delivery] = body["deliveries"]
    assert (delivery["status"], delivery["kind"], delivery["last_error"]) == (
        "failed",
        "SubmitRequest",
        "OneCTransportError",
    )
    assert served.http.get("/admin/processes/no-such", headers=AUTH).status_code == 404

    with store.engine.begin() as connection:  # an edit behind the repository's back
        connection.execute(text("UPDATE process_transitions SET reason = 'forged' WHERE seq = 3"))
    tampered = served.http.get("/admin/processes/r-dead", headers=AUTH).json()
    assert tampered["chain"]["verified"] is False
    assert tampered["chain"]["broken_at"] == 3


def test_stalled_by_catalog_deadlines_and_dead_letters(
    served: ServedBridge, requests: dict[str, str]
) -> None:
    answer = served.http.get("/admin/processes/stalled", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    found = {r["request_id"]: r for r in body["requests"]}
    assert set(found) == {"r-stalled", "r-cert"}  # not the fresh one, not the ended one
    assert found["r-stalled"]["deadline_hours"] == LEAVE.approvals[0].deadline_hours
    assert found["r-stalled"]["quiet_hours"] > LEAVE.approvals[0].deadline_hours
    assert found["r-cert"]["deadline_hours"] == CERTIFICATE.approvals[0].deadline_hours
    [letter] = body["dead_letters"]
    assert letter["id"] == int(requests["dead_message"])
    assert (letter["request_id"], letter["request_state"]) == ("r-dead", "approved")
    # An approved request quiet for longer than the deadline of states the catalog gives none:
    short = served.http.get("/admin/processes/stalled", params={"other_after_hours": 0.01}, headers=AUTH)
    assert "r-dead" in {r["request_id"] for r in short.json()["requests"]}


def _status(store: Store, message_id: int) -> tuple[str, int]:
    with store.sessions() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
        assert row is not None
        return row.status, row.attempts


def test_retry_requeues_the_dead_letter_once(
    served: ServedBridge, store: Store, requests: dict[str, str]
) -> None:
    message = int(requests["dead_message"])
    assert served.http.post("/admin/processes/r-stalled/retry", headers=AUTH).status_code == 409
    answer = served.http.post("/admin/processes/r-dead/retry", headers=AUTH)
    assert (answer.status_code, answer.json()) == (200, {"requeued": [message]})
    assert _status(store, message) == ("pending", 0)
    again = served.http.post("/admin/processes/r-dead/retry", headers=AUTH)
    assert (again.status_code, again.json()["error"]) == (409, "nothing_to_retry")
    assert served.http.post("/admin/processes/no-such/retry", headers=AUTH).status_code == 404
    assert served.http.post(f"/admin/outbox/{message}/retry", headers=AUTH).status_code == 409  # pending now
    assert served.http.post("/admin/outbox/999999/retry", headers=AUTH).status_code == 404


def test_retry_by_outbox_row(served: ServedBridge, store: Store, requests: dict[str, str]) -> None:
    message = int(requests["dead_message"])
    answer = served.http.post(f"/admin/outbox/{message}/retry", headers=AUTH)
    assert (answer.status_code, answer.json()) == (200, {"requeued": [message]})
    assert _status(store, message) == ("pending", 0)


def test_a_dead_submission_of_a_cancelled_request_is_not_sent_again_by_row(
    served: ServedBridge, store: Store, requests: dict[str, str]
) -> None:
    message = int(requests["dead_message"])
    assert _cancel(served, "r-dead").json()["state"] == "withdrawing"
    answer = served.http.post(f"/admin/outbox/{message}/retry", headers=AUTH)
    assert (answer.status_code, answer.json()["error"]) == (409, "request_moved_on")
    assert _status(store, message)[0] == "failed"


def _cancel(served: ServedBridge, request_id: str, reason: Any = "дубль заявления") -> Any:
    return served.http.post(f"/admin/processes/{request_id}/cancel", json={"reason": reason}, headers=AUTH)


def test_cancel_goes_through_the_engine_and_is_refused_where_the_state_forbids(
    served: ServedBridge, store: Store, requests: dict[str, str]
) -> None:
    answer = _cancel(served, "r-stalled")
    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "cancelled"
    assert (body["transition"]["actor"], body["transition"]["reason"]) == ("admin", "дубль заявления")
    history = served.http.get("/admin/processes/r-stalled", headers=AUTH).json()
    assert history["transitions"][-1]["to_state"] == "cancelled" and history["chain"]["verified"] is True
    notified = [d for d in history["deliveries"] if d["kind"] == "im.notify"]
    assert len(notified) == (1 if "cancelled" in LEAVE.messages else 0)

    ended = _cancel(served, "r-ended")
    assert (ended.status_code, ended.json()["error"]) == (409, "state_forbids")
    again = _cancel(served, "r-stalled")
    assert again.status_code == 409
    assert _cancel(served, "no-such").status_code == 404
    assert _cancel(served, "r-fresh", reason="").status_code == 422
    assert served.http.get("/admin/processes/r-fresh", headers=AUTH).json()["state"] == "awaiting:client"


def test_cancel_while_the_document_is_on_its_way_to_1c_withdraws_after_it(
    served: ServedBridge, store: Store, requests: dict[str, str]
) -> None:
    message = int(requests["dead_message"])
    assert served.http.post(f"/admin/outbox/{message}/retry", headers=AUTH).status_code == 200
    answer = _cancel(served, "r-dead")
    assert (answer.status_code, answer.json()["state"]) == (202, "withdrawing")
    body = served.http.get("/admin/processes/r-dead", headers=AUTH).json()
    assert body["state"] == "withdrawing" and body["chain"]["verified"] is True
    # the submit is still queued: its withdraw is written when it settles, never before it
    assert [(d["kind"], d["status"]) for d in body["deliveries"]] == [("SubmitRequest", "pending")]
    again = _cancel(served, "r-dead")
    assert (again.status_code, again.json()["error"]) == (409, "state_forbids")


def test_a_timesheet_is_listed_but_not_cancelled_here(served: ServedBridge, store: Store) -> None:
    from store.models import ProcessInstance

    now = utcnow()
    with UnitOfWork(store.sessions) as uow:
        uow.session.add(
            ProcessInstance(
                request_id="sheet-1", kind="timesheet", state="draft", data={}, created_at=now, updated_at=now
            )
        )
    listed = served.http.get("/admin/processes", params={"kind": "timesheet"}, headers=AUTH).json()
    assert [i["request_id"] for i in listed["items"]] == ["sheet-1"]
    answer = _cancel(served, "sheet-1")
    assert (answer.status_code, answer.json()["error"]) == (409, "not_cancellable")
