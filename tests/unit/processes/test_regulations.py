"""The acknowledgement's state machine, its hash chain, tasks' fields and the confirmation sheet."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from processes import regulations as reg
from processes.engine import IllegalTransition, verify_chain

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DOC = reg.Document("abc123", "org-1", "ПВТР", "pvtr.pdf", 7, 8801, date(2026, 12, 3), AT)


def test_chain_of_one_acknowledgement_verifies_and_catches_an_edit() -> None:
    ack = reg.ack_id(DOC.document_id, "p-1")
    first = reg.record(ack, None, reg.AckEvent("assign", "bridge", data={"task_id": 5}), AT)
    second = reg.record(ack, first, reg.AckEvent("remind", "bridge"), AT + timedelta(days=3))
    third = reg.record(ack, second, reg.AckEvent("confirm", "b24:12"), AT + timedelta(days=4))
    assert [r.to_state for r in (first, second, third)] == ["assigned", "assigned", "confirmed"]
    assert verify_chain(ack, [first, second, third]) is None
    forged = replace(third, actor="b24:1")
    assert verify_chain(ack, [first, second, forged]) is not None
    with pytest.raises(IllegalTransition):
        reg.record(ack, third, reg.AckEvent("confirm", "b24:12"), AT)


def test_same_file_same_entity_is_one_document() -> None:
    assert reg.document_id("org-1", "a.pdf", b"x") == reg.document_id("org-1", "a.pdf", b"x")
    assert reg.document_id("org-1", "a.pdf", b"x") != reg.document_id("org-2", "a.pdf", b"x")
    assert reg.document_id("org-1", "a.pdfx", b"") != reg.document_id("org-1", "a.pdf", b"x")


def test_task_fields_attach_the_file_and_tag_the_document() -> None:
    fields = reg.task_fields(DOC, 42, "https://portal.example/")
    assert fields["RESPONSIBLE_ID"] == 42 and fields["TAGS"] == ["lna-abc123"]
    assert fields["UF_TASK_WEBDAV_FILES"] == ["n8801"] and fields["GROUP_ID"] == 7


def test_reminder_is_due_once_per_interval_and_never_after_confirmation() -> None:
    assert not reg.reminder_due("assigned", AT, AT + timedelta(days=2), timedelta(days=3))
    assert reg.reminder_due("assigned", AT, AT + timedelta(days=3), timedelta(days=3))
    # the store hands back aware UTC (store/types.py); a moment in another zone is the same moment
    msk = timezone(timedelta(hours=3))
    assert reg.reminder_due("assigned", AT.astimezone(msk), AT + timedelta(days=3), timedelta(days=3))
    assert not reg.reminder_due("assigned", AT.astimezone(msk), AT + timedelta(days=2), timedelta(days=3))
    assert not reg.reminder_due("confirmed", AT, AT + timedelta(days=30), timedelta(days=3))


def test_sheet_lists_confirmed_first_and_defuses_formulas() -> None:
    rows = [
        reg.SheetRow("p-2", "=HYPERLINK(1)", "assigned", AT, None, None),
        reg.SheetRow("p-1", "Иванов Иван", "confirmed", AT, AT + timedelta(days=1), "b24:5"),
    ]
    sheet = load_workbook(io.BytesIO(reg.confirmation_sheet(DOC, rows))).active
    assert sheet is not None
    body = list(sheet.iter_rows(min_row=5, values_only=True))
    assert body[0][1] == "Иванов Иван" and body[0][3] == "ознакомлен"
    assert body[1][1] == "'=HYPERLINK(1)" and not body[1][5]
