"""Issue 13, a leave's calendar event follows 1C: a transfer that 1C marks done moves the event of the
approved leave to the new dates, a cancellation removes it; sending either again (an answer lost) changes
nothing and an event already gone is not an error. Both sandboxes and the bridge on loopback."""

from __future__ import annotations

from sqlalchemy import select, update

from store.models import OutboxMessage, ProcessInstance
from tests.integration.processes._flow import World

LEAVE = {"leave_kind": "annual", "date_from": "2026-07-01", "date_to": "2026-07-10"}


def _request_id(w: World, element: int) -> str:
    with w.store.sessions() as session:
        found = session.scalar(
            select(ProcessInstance.request_id).where(ProcessInstance.b24_element_id == element)
        )
        assert found is not None, f"no request for element {element}"
        return str(found)


async def _carried_to_done(w: World, element: int) -> str:
    """The client and the manager approve, 1C receives it and HR marks it done."""
    await w.pump()
    for _ in range(4):
        if not (w.decide(w.client) + w.decide(w.manager)):
            break
        await w.pump()
    request_id = _request_id(w, element)
    w.onec_sb.knobs.decide(request_id)
    await w.pump()
    return request_id


def _resend(w: World, kind: str) -> None:
    """As if the answer to the sent row had been lost: the row is due again."""
    with w.store.sessions.begin() as session:
        moved = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == kind)
            .values(status="pending", attempts=0, next_attempt_at=None)
        )
        assert moved.rowcount == 1  # type: ignore[attr-defined]


async def test_a_transfer_moves_the_event_and_a_cancellation_removes_it(w: World) -> None:
    leave = await _carried_to_done(w, w.file("leave", LEAVE))
    [event] = w.calendar(w.employee.uid)
    assert (event["DATE_FROM"], event["DATE_TO"]) == ("07/01/2026", "07/10/2026")

    transfer = {"action": "transfer", "original_request": leave, "date_from": "2026-08-03",
                "date_to": "2026-08-12", "reason": "Перенос по семейным обстоятельствам"}  # fmt: skip
    await _carried_to_done(w, w.file("leave_change", transfer))
    [moved] = w.calendar(w.employee.uid)
    assert (moved["ID"], moved["DATE_FROM"], moved["DATE_TO"]) == (event["ID"], "08/03/2026", "08/12/2026")
    _resend(w, "calendar.event.update")
    await w.pump()
    assert [(e["ID"], e["DATE_FROM"]) for e in w.calendar(w.employee.uid)] == [(event["ID"], "08/03/2026")]

    cancel = {"action": "cancel", "original_request": leave, "reason": "Отпуск не нужен"}
    await _carried_to_done(w, w.file("leave_change", cancel))
    assert w.calendar(w.employee.uid) == []
    _resend(w, "calendar.event.delete")  # the event is gone: settled, not dead-lettered
    await w.pump()
    with w.store.sessions() as session:
        rows = session.execute(
            select(OutboxMessage.kind, OutboxMessage.status).where(OutboxMessage.kind.like("calendar.%"))
        ).all()
    assert sorted(rows) == [("calendar.event.add", "sent"), ("calendar.event.delete", "sent"),
                            ("calendar.event.update", "sent")]  # fmt: skip
