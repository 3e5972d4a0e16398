"""Reminders and escalation of a waiting sheet; who is working today."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from core.ids import B24UserId
from processes.engine import Transition
from timesheets.deadlines import add_working_days, due
from timesheets.lifecycle import SheetEvent, record
from timesheets.model import SiteSettings
from timesheets.presence import presence

SUBMITTED = datetime(2026, 3, 5, 10, tzinfo=UTC)  # a Thursday
SETTINGS = SiteSettings(
    "site-A", "org", deadline_days=3, remind_before_days=1, alternate_approvers=(B24UserId(77),)
)


def _waiting() -> list[Transition]:
    first = record("s", None, SheetEvent("prefill", "bridge"), SUBMITTED - timedelta(days=1))
    return [first, record("s", first, SheetEvent("submit", "10"), SUBMITTED)]


def test_working_days_skip_weekends_and_holidays() -> None:
    assert add_working_days(date(2026, 3, 5), 3) == date(2026, 3, 10)
    assert add_working_days(date(2026, 3, 5), 3, {date(2026, 3, 9)}) == date(2026, 3, 11)


def test_a_reminder_before_the_deadline_then_escalation_once() -> None:
    history = _waiting()
    assert due(history, SETTINGS, datetime(2026, 3, 6, 9, tzinfo=UTC)) is None
    remind = due(history, SETTINGS, datetime(2026, 3, 9, 9, tzinfo=UTC))
    assert remind is not None and remind.name == "remind" and "10.03.2026" in (remind.reason or "")
    history.append(record("s", history[-1], remind, datetime(2026, 3, 9, 9, tzinfo=UTC)))
    assert due(history, SETTINGS, datetime(2026, 3, 10, 9, tzinfo=UTC)) is None
    escalate = due(history, SETTINGS, datetime(2026, 3, 11, 9, tzinfo=UTC))
    assert escalate is not None and escalate.name == "escalate" and escalate.data["to"] == [77]
    history.append(record("s", history[-1], escalate, datetime(2026, 3, 11, 9, tzinfo=UTC)))
    assert history[-1].to_state == "awaiting:client"
    assert due(history, SETTINGS, datetime(2026, 3, 12, 9, tzinfo=UTC)) is None


def test_presence_joins_time_tracking_with_the_schedule() -> None:
    msk = timezone(timedelta(hours=3))
    now = datetime(2026, 3, 5, 11, 0, tzinfo=msk)
    eight = Decimal(8)
    opened = {"STATUS": "OPENED", "TIME_START": "2026-03-05T08:55:00+03:00"}
    assert presence(opened, eight, now) == "clocked_in"
    assert presence({**opened, "TIME_START": "2026-03-05T09:40:00+03:00"}, eight, now) == "late"
    assert presence({**opened, "STATUS": "PAUSED"}, eight, now) == "on_break"
    assert presence({**opened, "STATUS": "CLOSED"}, eight, now) == "clocked_out"
    yesterday = {"STATUS": "EXPIRED", "TIME_START": "2026-03-04T09:00:00+03:00"}
    assert presence(yesterday, eight, now) == "late"
    assert presence(None, eight, datetime(2026, 3, 5, 9, 5, tzinfo=msk)) == "scheduled"
    assert presence(None, eight, datetime(2026, 3, 5, 19, 0, tzinfo=msk)) == "absent"
    assert presence(None, Decimal(0), now) == "day_off"
    assert presence(None, eight, now, shift_start=time(12, 0)) == "scheduled"
