"""The engine: one state machine for every entry, and a history whose every edit is detected."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from processes.catalog import CATALOG_FILE, default_catalog, parse_catalog
from processes.engine import (
    Event,
    IllegalTransition,
    Transition,
    employee_message,
    transition,
    verify_chain,
)

CATALOG = default_catalog()
LEAVE = CATALOG.entry("leave")
T0 = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
RID = "6f1c8f0e-2b0a-4c53-9d7e-0d6b1c2a3e4f"


def run(entry: Any, events: list[Event]) -> list[Transition]:
    records: list[Transition] = []
    for i, event in enumerate(events):
        records.append(
            transition(entry, RID, records[-1] if records else None, event, T0 + timedelta(hours=i))
        )
    return records


HAPPY = [
    Event("receive", "user_7", "filed in Bitrix24"),
    Event("validated", "bridge"),
    Event("remind", "bridge", "no answer in 24 h", step="client"),
    Event("approve", "user_12", step="client"),
    Event("approve", "user_3", "ok", step="provider"),
    Event("submitted", "bridge", data={"docNumber": "ЗО-000123"}),
    Event("onec_in_review", "1c"),
    Event("onec_done", "1c", "Отпуск проведён"),
]


def test_a_leave_goes_the_whole_way() -> None:
    records = run(LEAVE, HAPPY)
    assert [r.to_state for r in records] == [
        "received",
        "awaiting:client",
        "awaiting:client",
        "awaiting:provider",
        "approved",
        "submitted",
        "submitted",
        "done",
    ]
    assert records[0].prev_hash is None
    assert all(r.prev_hash == p.row_hash for p, r in itertools.pairwise(records))
    assert records[5].data == {"docNumber": "ЗО-000123", "event": "submitted"}
    assert verify_chain(RID, records) is None


def test_the_employee_is_told_each_outcome() -> None:
    records = run(LEAVE, HAPPY)
    said = [employee_message(LEAVE, r) for r in records]
    assert said[1] == "Заявление на отпуск принято и отправлено на согласование."
    assert said[2] is None  # a reminder keeps the state: nothing to say to the employee
    assert said[4] == "Отпуск согласован и передан в отдел кадров."
    assert said[-1] == "Отпуск оформлен. Он появится в вашем календаре."
    rejected = run(LEAVE, [*HAPPY[:2], Event("reject", "user_12", "аврал на объекте", step="client")])
    assert employee_message(LEAVE, rejected[-1]) == "Отпуск не согласован: аврал на объекте"


@pytest.mark.parametrize(
    ("events", "error"),
    [
        ([Event("validated", "bridge")], "validated does not apply to a request in state None"),
        ([*HAPPY[:2], Event("approve", "user_3", step="provider")], "while awaiting 'client'"),
        ([*HAPPY[:2], Event("submitted", "bridge")], "submitted does not apply"),
        ([HAPPY[0], Event("invalidated", "bridge"), Event("retry", "admin")], "in state 'invalid'"),
        ([HAPPY[0], HAPPY[0]], "receive does not apply"),
    ],
)
def test_events_out_of_place_are_refused(events: list[Event], error: str) -> None:
    with pytest.raises(IllegalTransition, match=error):
        run(LEAVE, events)


def test_failure_can_be_retried_and_cancel_ends_anything_open() -> None:
    records = run(
        LEAVE,
        [
            *HAPPY[:5],
            Event("fail", "bridge", "1C: PERSON_NOT_FOUND"),
            Event("retry", "admin:alice", "person fixed in 1C"),
            Event("cancel", "user_7", "передумал"),
        ],
    )
    # approved again: the document may be on its way to 1C, so the cancel withdraws it first
    assert [r.to_state for r in records[-3:]] == ["failed", "approved", "withdrawing"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: dataclasses.replace(r[3], actor="user_99"),
        lambda r: dataclasses.replace(r[3], reason="changed my mind"),
        lambda r: dataclasses.replace(r[3], data={"event": "approve", "step": "provider"}),
        lambda r: dataclasses.replace(r[3], at=r[3].at + timedelta(seconds=1)),
        lambda r: dataclasses.replace(r[3], to_state="approved"),
    ],
)
def test_any_edit_is_detected(tamper: Any) -> None:
    records = run(LEAVE, HAPPY)
    records[3] = tamper(records)
    broken = verify_chain(RID, records)
    assert broken is not None and broken.seq in (3 + 1, 3 + 2)


def test_removal_insertion_reorder_and_rehashing_are_detected() -> None:
    records = run(LEAVE, HAPPY)
    assert verify_chain(RID, records[:3] + records[4:]) is not None  # a record removed
    assert verify_chain(RID, [records[1], records[0], *records[2:]]) is not None  # reordered
    assert verify_chain("another-request", records) is not None  # moved to another request
    # An edit whose own hash is recomputed still breaks the link to the next record.
    forged = transition(LEAVE, RID, records[2], Event("approve", "user_99", step="client"), records[3].at)
    records[3] = forged
    broken = verify_chain(RID, records)
    assert broken is not None and broken.seq == 5 and broken.problem == "does not follow the previous record"


def test_naive_datetimes_from_the_store_hash_the_same() -> None:
    records = run(LEAVE, HAPPY[:2])
    naive = [dataclasses.replace(r, at=r.at.replace(tzinfo=None)) for r in records]
    assert verify_chain(RID, naive) is None


def test_a_new_process_needs_only_a_catalog_entry() -> None:
    data = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
    data["processes"]["uniform"] = {
        "title": "Спецодежда",
        "fields": [
            {"code": "size", "label": "Размер", "type": "int", "required": True, "min": 40, "max": 70}
        ],
        "approvals": [
            {"code": "store", "title": "Выдача", "approver": "provider_manager", "deadline_hours": 72}
        ],
        "onec": {"kind": "WorkBook", "details": {"size": "size", "item": "=uniform"}},
        "messages": {
            "invalid": "Не отправлено: {reason}",
            "approved": "Передано на склад.",
            "rejected": "Отказано: {reason}",
            "done": "Спецодежда выдана.",
        },
    }
    uniform = parse_catalog(data).entry("uniform")
    records = run(
        uniform,
        [
            Event("receive", "user_7"),
            Event("validated", "bridge"),
            Event("approve", "user_3", step="store"),
            Event("submitted", "bridge"),
            Event("onec_done", "1c"),
        ],
    )
    assert [r.to_state for r in records] == ["received", "awaiting:store", "approved", "submitted", "done"]
    assert employee_message(uniform, records[-1]) == "Спецодежда выдана."
    assert verify_chain(RID, records) is None
