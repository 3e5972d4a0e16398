"""Current placement from dated history (future and temporary transfers) and the certificate PDF."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sandbox.onec.model import EmployeeRec, Event
from sandbox.onec.pdf import build_pdf
from sandbox.onec.schedules import FULL_TIME, SHIFT_2_2, planned_hours


def employee(*events: Event) -> EmployeeRec:
    return EmployeeRec("e", "КА-0000001", "p", "o", None, "Main", Decimal(1), FULL_TIME, list(events))


def test_placement_follows_effective_dates() -> None:
    emp = employee(
        Event(date(2025, 1, 10), "Hire", "o", "d1", "pos"),
        Event(date(2026, 2, 1), "Transfer", "o", "d2", "pos", valid_until=date(2026, 2, 28)),
        Event(date(2026, 4, 1), "Transfer", "o", "d3", "pos"),
        Event(date(2026, 5, 31), "Dismissal", "o", "d3", "pos"),
    )
    assert emp.placement(date(2026, 1, 1)).dept_ref == "d1"  # type: ignore[union-attr]
    assert emp.placement(date(2026, 2, 15)).dept_ref == "d2"  # type: ignore[union-attr]
    assert emp.placement(date(2026, 3, 15)).dept_ref == "d1"  # type: ignore[union-attr]  # temporary move over
    assert emp.placement(date(2026, 4, 2)).dept_ref == "d3"  # type: ignore[union-attr]
    assert emp.placement(date(2026, 3, 15)).dismissal_date == date(2026, 5, 31)  # type: ignore[union-attr]
    assert not emp.archived(date(2026, 5, 31)) and emp.archived(date(2026, 6, 1))


def test_restore_cancels_the_dismissal() -> None:
    emp = employee(
        Event(date(2025, 1, 10), "Hire", "o", "d1", "pos"),
        Event(date(2025, 6, 1), "Dismissal", "o", "d1", "pos"),
        Event(date(2025, 6, 20), "Restore", "o", "d1", "pos"),
    )
    assert emp.dismissal_date() is None and not emp.archived(date(2026, 1, 1))


def test_schedules() -> None:
    assert planned_hours(FULL_TIME, date(2026, 3, 9)) == 8  # Monday
    assert planned_hours(FULL_TIME, date(2026, 3, 8)) == 0  # holiday
    shift = [planned_hours(SHIFT_2_2, date(2026, 3, d)) for d in range(1, 9)]
    assert shift.count(Decimal(11)) == 4


def test_pdf_is_well_formed() -> None:
    pdf = build_pdf("SPRAVKA", ["Vydana: Ivanova Anna (test)", "Line 2"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.endswith(b"%%EOF\n")
    xref_at = int(re.search(rb"startxref\n(\d+)", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[xref_at:].startswith(b"xref")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf)]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
