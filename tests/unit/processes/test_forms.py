"""From an element row to form values, and from an approved request to its 1C SubmitRequest."""

from __future__ import annotations

from datetime import UTC, date, datetime

from connectors.onec.port import Approval, Attachment
from processes.catalog import default_catalog
from processes.forms import form_values, submission
from processes.validation import validate_request

CATALOG = default_catalog()
RID = "6f1c8f0e-2b0a-4c53-9d7e-0d6b1c2a3e4f"


def test_element_row_to_values_and_to_a_leave_submission() -> None:
    leave = CATALOG.entry("leave")
    ids = {"leave_kind": "PROPERTY_101", "date_from": "PROPERTY_102", "date_to": "PROPERTY_103"}
    row = {  # lists.element.get: every property keyed by its value id, dates in the portal's format
        "ID": "6999",
        "PROPERTY_101": {"3743": "annual"},
        "PROPERTY_102": {"3745": "07/01/2026 12:00:00 am"},
        "PROPERTY_103": {"3747": "07/14/2026 12:00:00 am"},
        "PROPERTY_104": {"3749": "ignored"},
    }
    values = form_values(leave, row, ids)
    assert values == {
        "leave_kind": "annual",
        "date_from": "07/01/2026 12:00:00 am",
        "date_to": "07/14/2026 12:00:00 am",
    }
    assert validate_request(leave, values, leave_balance=28) == []
    approval = Approval("user_12", "client_approver", datetime(2026, 3, 16, tzinfo=UTC), "Approved")
    request = submission(
        leave, values, request_id=RID, person_ref="p-1", employee_ref="e-1", approvals=[approval]
    )
    assert (request.kind, request.date_from, request.date_to) == (
        "Leave",
        date(2026, 7, 1),
        date(2026, 7, 14),
    )
    assert request.details == {"leaveKind": "annual"}  # the empty comment is left out
    assert request.approvals == (approval,)


def test_kind_fixed_details_and_attachments() -> None:
    entry = CATALOG.entry("child_tax_deduction")
    scan = Attachment("birth.pdf", "application/pdf", b"%PDF-1.4")
    values = {"child_name": "Иванова Анна", "child_birth_date": "01.02.2020", "child_order": "2"}
    request = submission(
        entry,
        values,
        request_id=RID,
        person_ref="p-1",
        employee_ref=None,
        files={"birth_certificate": [scan], "unrelated": [scan]},
    )
    assert request.kind == "TaxDeduction" and request.employee_ref is None
    assert request.details == {
        "deduction": "child",
        "childName": "Иванова Анна",
        "childBirthDate": "2020-02-01",
        "childOrder": "2",
    }
    assert request.attachments == (scan,)
    cert = submission(
        CATALOG.entry("certificate"),
        {"certificate_kind": "income_2ndfl", "year": "2025", "purpose": "ипотека"},
        request_id=RID,
        person_ref="p-1",
        employee_ref="e-1",
    )
    assert cert.kind == "IncomeCertificate" and cert.details["year"] == "2025"
