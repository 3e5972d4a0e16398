"""The timesheet's state machine, recorded with processes/engine.py's hash-chained transitions.

Why not a catalog entry on the request engine: a disputed timesheet goes back to the employee and comes
round again (the engine's ``reject`` ends a request), 1C answers a timesheet with per-day conflicts for the
provider manager (a state the engine has not got), and ``SubmitTimesheet`` is not a ``SubmitRequest``
kind. The record, its sha256 chain and ``verify_chain`` are the engine's, unchanged, so one audit trail
and one verifier serve requests and timesheets alike.

| event | from | to |
|---|---|---|
| ``prefill`` | (none) | ``draft`` |
| ``edit`` (days) | ``draft`` | ``draft`` |
| ``submit`` (days) | ``draft`` | ``awaiting:client`` |
| ``approve`` (step) | ``awaiting:client`` / ``awaiting:provider`` | ``awaiting:provider`` / ``approved`` |
| ``dispute`` (step, reason) | ``awaiting:*`` | ``draft`` |
| ``remind``, ``escalate`` (step) | ``awaiting:*`` | the same |
| ``onec_accepted`` / ``_conflicts`` / ``_failed`` | ``approved`` | ``submitted`` / ``conflict`` / ``failed``|
| ``retry`` | ``failed`` | ``approved`` |
| ``resolve`` (reason) | ``conflict`` | ``submitted`` |
| ``superseded`` (by) | ``approved``, ``submitted``, ``conflict``, ``failed`` | ``superseded`` |
| ``cancel`` | ``draft`` | ``cancelled`` |

From ``approved`` on a version is locked: its days never change; a correction is a new version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from processes.engine import IllegalTransition, Transition, row_hash
from timesheets.diff import DayChange, changed_days
from timesheets.model import Day
from timesheets.serial import days_from_data

SheetEventName = Literal[
    "prefill",
    "edit",
    "submit",
    "approve",
    "dispute",
    "remind",
    "escalate",
    "onec_accepted",
    "onec_conflicts",
    "onec_failed",
    "retry",
    "resolve",
    "superseded",
    "cancel",
]
STEPS = ("client", "provider")
"""The client approver of the site, then the provider manager."""
AWAITING = "awaiting:"
LOCKED = frozenset({"approved", "submitted", "conflict", "failed", "superseded"})
APPROVED = frozenset({"approved", "submitted", "conflict"})
"""States whose hours count as approved (billing, summaries). ``failed`` waits for a retry, still approved."""
TERMINAL = frozenset({"superseded", "cancelled"})
STATE_LABELS = {
    "draft": "черновик",
    "awaiting:client": "на согласовании у клиента",
    "awaiting:provider": "на согласовании у менеджера",
    "approved": "согласован",
    "submitted": "передан в 1С",
    "conflict": "конфликт с 1С",
    "failed": "ошибка 1С",
    "superseded": "заменён исправлением",
    "cancelled": "отменён",
}
EVENT_LABELS = {
    "prefill": "заполнен по графику",
    "edit": "изменён",
    "submit": "отправлен",
    "approve": "согласован",
    "dispute": "оспорен",
    "remind": "напоминание",
    "escalate": "передан заместителю",
    "onec_accepted": "принят 1С",
    "onec_conflicts": "конфликт с 1С",
    "onec_failed": "ошибка 1С",
    "retry": "повторная передача",
    "resolve": "конфликт закрыт",
    "superseded": "заменён исправлением",
    "cancel": "отменён",
}
_REASON_NEEDED = frozenset({"dispute", "resolve"})


@dataclass(frozen=True, slots=True)
class SheetEvent:
    name: SheetEventName
    actor: str
    reason: str | None = None
    step: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def is_locked(state: str) -> bool:
    return state in LOCKED


def next_state(state: str | None, event: SheetEvent) -> str:
    """The state after ``event``; IllegalTransition (nothing written) when it does not fit."""
    name = event.name
    if name in _REASON_NEEDED and not (event.reason or "").strip():
        raise IllegalTransition(f"{name} needs a reason")
    if state is None:
        if name == "prefill":
            return "draft"
    elif name in ("edit", "submit", "cancel") and state == "draft":
        return {"edit": "draft", "submit": AWAITING + STEPS[0], "cancel": "cancelled"}[name]
    elif name in ("approve", "dispute", "remind", "escalate") and state.startswith(AWAITING):
        return _approval(state, event)
    elif state == "approved" and name in ("onec_accepted", "onec_conflicts", "onec_failed"):
        return {"onec_accepted": "submitted", "onec_conflicts": "conflict", "onec_failed": "failed"}[name]
    elif name == "retry" and state == "failed":
        return "approved"
    elif name == "resolve" and state == "conflict":
        return "submitted"
    elif name == "superseded" and state in LOCKED - {"superseded"}:
        return "superseded"
    raise IllegalTransition(f"{name} does not apply to a timesheet in state {state!r}")


def _approval(state: str, event: SheetEvent) -> str:
    current = state.removeprefix(AWAITING)
    if event.step != current:
        raise IllegalTransition(f"{event.name} of step {event.step!r} while awaiting {current!r}")
    if event.name in ("remind", "escalate"):
        return state
    if event.name == "dispute":
        return "draft"
    index = STEPS.index(current)
    return AWAITING + STEPS[index + 1] if index + 1 < len(STEPS) else "approved"


def record(sheet_id: str, last: Transition | None, event: SheetEvent, at: datetime) -> Transition:
    """The next record of the sheet whose latest record is ``last``; hashed exactly as the engine does."""
    from_state = last.to_state if last else None
    to_state = next_state(from_state, event)
    data: dict[str, Any] = json.loads(json.dumps({**event.data, "event": event.name}, default=str))
    if event.step is not None:
        data["step"] = event.step
    seq = last.seq + 1 if last else 1
    prev = last.row_hash if last else None
    digest = row_hash(sheet_id, seq, from_state, to_state, event.actor, event.reason, data, at, prev)
    return Transition(sheet_id, seq, from_state, to_state, event.actor, event.reason, data, at, prev, digest)


def submitted_days(history: Sequence[Transition]) -> list[list[Day]]:
    """The days of every submission, oldest first (``submit`` records carry them)."""
    return [days_from_data(r.data["days"]) for r in history if r.data.get("event") == "submit"]


def last_dispute(history: Sequence[Transition]) -> Transition | None:
    return next((r for r in reversed(history) if r.data.get("event") == "dispute"), None)


def resubmission_diff(history: Sequence[Transition]) -> list[DayChange]:
    """What the employee changed since the disputed submission (empty before a second submission)."""
    rounds = submitted_days(history)
    return changed_days(rounds[-2], rounds[-1]) if len(rounds) >= 2 else []


def dispute_diff(history: Sequence[Transition]) -> list[DayChange]:
    """The disputed submission beside the days the approver proposed (if any) in the latest dispute."""
    dispute = last_dispute(history)
    rounds = submitted_days(history)
    if dispute is None or not rounds or "proposed" not in dispute.data:
        return []
    return changed_days(rounds[-1], days_from_data(dispute.data["proposed"]))
