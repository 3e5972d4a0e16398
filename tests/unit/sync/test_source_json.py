"""sync.source: an Absence stored with ``to_json`` comes back from ``from_json`` as it was, dates as dates."""

from __future__ import annotations

from datetime import date

from connectors.onec.port import Absence, AbsenceRef, EmploymentRef
from sync.source import from_json, to_json


def test_an_absence_round_trips_with_its_dates_as_dates() -> None:
    absence = Absence(
        AbsenceRef("a-1"), EmploymentRef("e-1"), "Vacation", date(2026, 7, 1), date(2026, 7, 10), "Posted"
    )
    stored = to_json(absence)
    assert stored["date_from"] == "2026-07-01"  # stored as text (JSON)
    back = from_json("Absence", stored)
    assert back == absence
    assert isinstance(back, Absence) and (back.date_to - back.date_from).days == 9
