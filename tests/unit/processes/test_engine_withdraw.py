"""The engine's withdrawal: a cancel once the request is on its way to 1C is ``withdrawing`` until 1C
answers; every path keeps a verifiable chain, and the employee is told from the catalog (or a default)."""

from __future__ import annotations

import pytest

from processes.engine import (
    DEFAULT_MESSAGES,
    Event,
    IllegalTransition,
    employee_message,
    next_state,
    verify_chain,
)
from tests.unit.processes.test_engine import CATALOG, HAPPY, LEAVE, RID, run

APPROVED = HAPPY[:5]
SUBMITTED = HAPPY[:6]
CANCEL = Event("cancel", "admin", "дубль заявления")
WITHDRAWN = Event("withdrawn", "bridge:outbox", "дубль заявления", data={"status": "Withdrawn"})
TOO_LATE = Event("withdraw_refused", "bridge:outbox", "Отпуск уже оформлен", data={"status": "TooLate"})


@pytest.mark.parametrize(
    ("events", "states"),
    [
        ([*SUBMITTED, CANCEL, WITHDRAWN], ["withdrawing", "cancelled"]),
        ([*SUBMITTED, CANCEL, TOO_LATE, HAPPY[7]], ["withdrawing", "submitted", "done"]),
        ([*SUBMITTED, CANCEL, Event("onec_done", "onec")], ["withdrawing", "done"]),
        ([*SUBMITTED, CANCEL, Event("onec_rejected", "onec", "нет")], ["withdrawing", "rejected"]),
        ([*SUBMITTED, CANCEL, Event("onec_in_review", "onec"), WITHDRAWN],
         ["withdrawing", "withdrawing", "cancelled"]),
        # cancelled while approved: the submit settles (kept withdrawing), then the withdraw answers
        ([*APPROVED, CANCEL, HAPPY[5], WITHDRAWN], ["withdrawing", "withdrawing", "cancelled"]),
        ([*APPROVED, CANCEL, Event("fail", "bridge:outbox", "PERSON_NOT_FOUND"), WITHDRAWN],
         ["withdrawing", "withdrawing", "cancelled"]),
        # withdrawn in 1C itself (Отозвано through the feed)
        ([*SUBMITTED, Event("withdrawn", "onec", "по заявлению")], ["cancelled"]),
        # a second cancel after 1C said too late withdraws again
        ([*SUBMITTED, CANCEL, TOO_LATE, CANCEL, WITHDRAWN],
         ["withdrawing", "submitted", "withdrawing", "cancelled"]),
        # before 1C nothing is withdrawn; a refused request is simply cancelled
        ([*HAPPY[:2], CANCEL], ["cancelled"]),
        ([*APPROVED, Event("fail", "bridge:outbox", "X"), CANCEL], ["failed", "cancelled"]),
    ],
)  # fmt: skip
def test_withdrawal_paths_and_their_chain(events: list[Event], states: list[str]) -> None:
    records = run(LEAVE, events)
    assert [r.to_state for r in records[-len(states) :]] == states
    assert verify_chain(RID, records) is None


@pytest.mark.parametrize(
    ("state", "event"),
    [
        ("withdrawing", CANCEL),
        ("withdrawing", Event("retry", "admin")),
        ("submitted", TOO_LATE),
        ("approved", WITHDRAWN),
        ("cancelled", WITHDRAWN),
        ("done", TOO_LATE),
    ],
)
def test_withdrawal_events_out_of_place_are_refused(state: str, event: Event) -> None:
    with pytest.raises(IllegalTransition):
        next_state(LEAVE, state, event)


def test_the_employee_is_told_the_outcome_of_a_withdrawal() -> None:
    records = run(LEAVE, [*SUBMITTED, CANCEL, TOO_LATE, CANCEL, WITHDRAWN])
    said = [employee_message(LEAVE, r) for r in records[-4:]]
    assert said[0] is None and said[2] is None  # withdrawing: nothing yet
    assert said[1] == LEAVE.messages["withdraw_refused"].replace("{reason}", "Отпуск уже оформлен")
    assert said[3] == "Заявление на отпуск отозвано из отдела кадров: дубль заявления"
    trip = CATALOG.entry("business_trip")  # no withdrawal texts in its entry: the defaults
    assert "withdrawn" not in trip.messages and "cancelled" not in trip.messages
    late = run(trip, [*SUBMITTED[:2], *[Event("approve", "u", step=s.code) for s in trip.approvals],
                      HAPPY[5], CANCEL, TOO_LATE])  # fmt: skip
    assert employee_message(trip, late[-1]) == DEFAULT_MESSAGES["withdraw_refused"].replace(
        "{reason}", "Отпуск уже оформлен"
    )


def test_a_request_withdrawn_in_1c_itself_is_told_so() -> None:
    records = run(LEAVE, [*SUBMITTED, Event("withdrawn", "onec", "по заявлению сотрудника")])
    assert employee_message(LEAVE, records[-1]) == (
        "Заявление на отпуск отозвано из отдела кадров: по заявлению сотрудника"
    )
