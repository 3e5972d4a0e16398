"""Reminders before an approval deadline and escalation to the alternate approver after it (pure).

A sheet waiting at a step has a deadline ``deadline_days`` working days (Monday–Friday, minus the
holidays given) after it entered the step. One reminder goes out ``remind_before_days`` working days
before the deadline, the escalation once it has passed; both are recorded as ``remind`` / ``escalate``
transitions, which keep the state, so the history says who was chased and when, and nothing is sent
twice. The reconciliation job applies what ``due`` returns.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta

from processes.engine import Transition
from timesheets.lifecycle import AWAITING, SheetEvent
from timesheets.model import SiteSettings


def add_working_days(start: date, days: int, holidays: Collection[date] = ()) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            days -= 1
    return current


def due(
    history: Sequence[Transition], settings: SiteSettings, now: datetime, holidays: Collection[date] = ()
) -> SheetEvent | None:
    """The reminder or escalation due now for a sheet waiting at an approval step, else None."""
    if not history or not history[-1].to_state.startswith(AWAITING):
        return None
    state = history[-1].to_state
    step = state.removeprefix(AWAITING)
    entered = next(r for r in reversed(history) if r.to_state == state and r.from_state != state)
    since = [r for r in history if r.seq > entered.seq]
    sent = {r.data.get("event") for r in since}
    deadline = add_working_days(entered.at.date(), settings.deadline_days, holidays)
    remind_on = add_working_days(
        entered.at.date(), max(settings.deadline_days - settings.remind_before_days, 0), holidays
    )
    today = now.date()
    if today > deadline and "escalate" not in sent:
        if step == "client" and settings.alternate_approvers:
            return SheetEvent("escalate", "bridge", "срок согласования прошёл", step,
                              {"to": list(settings.alternate_approvers)})  # fmt: skip
        if step == "provider" and len(settings.provider_managers) > 1:
            return SheetEvent("escalate", "bridge", "срок согласования прошёл", step,
                              {"to": list(settings.provider_managers[1:])})  # fmt: skip
    if today >= remind_on and "remind" not in sent and "escalate" not in sent:
        return SheetEvent("remind", "bridge", f"согласуйте до {deadline:%d.%m.%Y}", step)
    return None
