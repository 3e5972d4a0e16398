"""One state machine for every catalog entry, and its tamper-evident history.

A request moves ``received`` → ``awaiting:<step>`` (one per approval step of its entry) → ``approved`` →
``submitted`` (1C has the document) → ``done``; it can end ``invalid``, ``rejected`` or ``cancelled``, and
``failed`` (1C refused) can be retried. A ``cancel`` once the request is on its way to 1C (``approved``,
``submitted``) is ``withdrawing`` until 1C answers ``WithdrawRequest``: withdrawn → ``cancelled``, too late
(HR decided) → back to ``submitted``; HR finishing first ends it ``done`` or ``rejected`` as usual.
Reminders, escalations to the alternate, 1C's "in review" and the submit settling while withdrawing are
recorded as transitions that keep the state. Every transition is a record with who, when, why and the
hash of the previous record (sha256 over a canonical JSON form), so the history is append-only and any
later edit, insertion or removal is found by ``verify_chain``. Pure: no I/O, no clock (callers pass
``at``); store/process_repo.py keeps the records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from processes.catalog import Outcome, ProcessEntry

EventName = Literal[
    "receive",
    "validated",
    "invalidated",
    "approve",
    "reject",
    "remind",
    "escalate",
    "submitted",
    "onec_in_review",
    "onec_done",
    "onec_rejected",
    "fail",
    "retry",
    "cancel",
    "withdrawn",
    "withdraw_refused",
]
TERMINAL = frozenset({"invalid", "rejected", "done", "cancelled"})
AWAITING = "awaiting:"
WITHDRAWING = "withdrawing"
IN_1C = frozenset({"approved", "submitted"})
"""States whose cancel must withdraw the document from 1C first."""
WITH_1C = frozenset({"submitted", WITHDRAWING})
"""States in which 1C's change feed moves the request."""
# What the employee is told when a request enters each state (catalog ``messages``); None = nothing.
_OUTCOME_OF_STATE = {
    "invalid": "invalid",
    "approved": "approved",
    "rejected": "rejected",
    "submitted": "submitted",
    "done": "done",
    "cancelled": "cancelled",
    "failed": "failed",
}
_OUTCOME_FROM_WITHDRAWING = {"cancelled": "withdrawn", "submitted": "withdraw_refused"}
DEFAULT_MESSAGES: dict[Outcome, str] = {
    "withdrawn": "Заявка отозвана из отдела кадров.",
    "withdraw_refused": "Заявку уже не отозвать — отдел кадров её рассмотрел: {reason}",
}
"""Said for an outcome the entry's ``messages`` leave out (``withdrawn`` tries ``cancelled`` first)."""


class IllegalTransition(ValueError):
    """The event does not apply to the request's current state (a bug or a stale call-out)."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a request: who did it and why; ``step`` names the approval step."""

    name: EventName
    actor: str
    reason: str | None = None
    step: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transition:
    """One record of the history, exactly as stored."""

    request_id: str
    seq: int
    from_state: str | None
    to_state: str
    actor: str
    reason: str | None
    data: Mapping[str, Any]
    at: datetime
    prev_hash: str | None
    row_hash: str


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where the history stops being trustworthy, and how."""

    seq: int
    problem: str


def awaiting(step: str) -> str:
    return AWAITING + step


def next_state(entry: ProcessEntry, state: str | None, event: Event) -> str:
    """The state after ``event``; IllegalTransition when the event does not fit the current state."""
    name = event.name
    if name == "receive":
        if state is None:
            return "received"
    elif state is None or state in TERMINAL:
        pass
    elif name == "cancel" and state != WITHDRAWING:
        return WITHDRAWING if state in IN_1C else "cancelled"
    elif name == "validated" and state == "received":
        return awaiting(entry.approvals[0].code)
    elif name == "invalidated" and state == "received":
        return "invalid"
    elif name in ("approve", "reject", "remind", "escalate") and state.startswith(AWAITING):
        return _approval(entry, state, event)
    elif name in ("submitted", "fail") and state == WITHDRAWING:
        return state  # the submit settled after the cancel: its withdraw follows
    elif name == "submitted" and state == "approved":
        return "submitted"
    elif name == "fail" and state in ("approved", "submitted"):
        return "failed"
    elif name == "retry" and state == "failed":
        return "approved"
    elif name == "onec_in_review" and state in WITH_1C:
        return state
    elif name == "onec_done" and state in WITH_1C:
        return "done"
    elif name == "onec_rejected" and state in WITH_1C:
        return "rejected"
    elif name == "withdrawn" and state in WITH_1C:
        return "cancelled"
    elif name == "withdraw_refused" and state == WITHDRAWING:
        return "submitted"
    raise IllegalTransition(f"{name} does not apply to a request in state {state!r}")


def _approval(entry: ProcessEntry, state: str, event: Event) -> str:
    codes = [s.code for s in entry.approvals]
    current = state.removeprefix(AWAITING)
    if event.step != current or current not in codes:
        raise IllegalTransition(f"{event.name} of step {event.step!r} while awaiting {current!r}")
    if event.name in ("remind", "escalate"):
        return state
    if event.name == "reject":
        return "rejected"
    index = codes.index(current)
    return awaiting(codes[index + 1]) if index + 1 < len(codes) else "approved"


def _canonical_at(at: datetime) -> str:
    """UTC, microseconds. The store returns aware UTC (store/types.py); a naive moment is read as UTC, as
    it was when SQLite returned naive ones, so every history written since hashes the same."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def row_hash(
    request_id: str,
    seq: int,
    from_state: str | None,
    to_state: str,
    actor: str,
    reason: str | None,
    data: Mapping[str, Any],
    at: datetime,
    prev_hash: str | None,
) -> str:
    body = {
        "request_id": request_id,
        "seq": seq,
        "from": from_state,
        "to": to_state,
        "actor": actor,
        "reason": reason,
        "data": dict(data),
        "at": _canonical_at(at),
        "prev": prev_hash,
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def transition(
    entry: ProcessEntry,
    request_id: str,
    last: Transition | None,
    event: Event,
    at: datetime,
) -> Transition:
    """The next record of a request whose latest record is ``last`` (None for a new request)."""
    from_state = last.to_state if last else None
    to_state = next_state(entry, from_state, event)
    data: dict[str, Any] = json.loads(json.dumps({**event.data, "event": event.name}, default=str))
    if event.step is not None:
        data["step"] = event.step
    seq = last.seq + 1 if last else 1
    prev = last.row_hash if last else None
    digest = row_hash(request_id, seq, from_state, to_state, event.actor, event.reason, data, at, prev)
    return Transition(
        request_id, seq, from_state, to_state, event.actor, event.reason, data, at, prev, digest
    )


def verify_chain(request_id: str, records: Sequence[Transition]) -> ChainBreak | None:
    """The first record that was edited, inserted, removed or reordered; None when the history is intact."""
    prev: Transition | None = None
    for expected_seq, record in enumerate(records, start=1):
        if record.seq != expected_seq:
            return ChainBreak(record.seq, f"record {expected_seq} is missing or out of order")
        if record.prev_hash != (prev.row_hash if prev else None):
            return ChainBreak(record.seq, "does not follow the previous record")
        if record.from_state != (prev.to_state if prev else None):
            return ChainBreak(record.seq, "starts from a state the previous record did not end in")
        digest = row_hash(
            request_id,
            record.seq,
            record.from_state,
            record.to_state,
            record.actor,
            record.reason,
            record.data,
            record.at,
            record.prev_hash,
        )
        if digest != record.row_hash:
            return ChainBreak(record.seq, "was changed after it was written")
        prev = record
    return None


def employee_message(entry: ProcessEntry, record: Transition) -> str | None:
    """What the employee is told for this transition, from the catalog; None when nothing is said."""
    if record.from_state == record.to_state:
        return None
    outcome = _OUTCOME_OF_STATE.get(record.to_state)
    if record.from_state in WITH_1C:  # withdrawn by the bridge's cancel, or in 1C itself
        outcome = _OUTCOME_FROM_WITHDRAWING.get(record.to_state, outcome)
    if outcome is None and record.from_state == "received":
        outcome = "received"
    if outcome is None:
        return None
    text = entry.messages.get(cast(Outcome, outcome))
    if text is None and outcome == "withdrawn":
        text = entry.messages.get("cancelled")
    text = text or DEFAULT_MESSAGES.get(cast(Outcome, outcome))
    return text.replace("{reason}", record.reason or "") if text else None
