"""processes/attachments.py without I/O: the references an approval stores, and how a download failure
decides the outbox row's fate (Transient → backoff, Terminal → dead letter named by the class)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.bitrix24 import files
from connectors.bitrix24.errors import TRANSPORT, api_error, classify
from connectors.onec.port import RequestSubmission
from core.errors import Terminal, Transient
from processes import attachments
from processes.catalog import default_catalog

CATALOG = default_catalog()


def test_references_name_every_file_of_the_attachment_fields() -> None:
    entry = CATALOG.entry("child_tax_deduction")
    values = {"birth_certificate": "30001", "statement": ["30002", "30003"], "child_name": "x"}
    refs = attachments.references(entry, values, iblock_id=171, element_id=6999)
    assert [(r["field"], r["file_id"], r["iblock_id"], r["element_id"]) for r in refs] == [
        ("birth_certificate", "30001", 171, 6999),
        ("statement", "30002", 171, 6999),
        ("statement", "30003", 171, 6999),
    ]
    assert attachments.references(entry, values, iblock_id=None, element_id=None) == []
    by_code = attachments.references(entry, {"statement": "7"}, iblock_id=0, element_id=1)
    assert by_code[0]["iblock_id"] is None and by_code[0]["iblock_code"] == "eb_child_tax_deduction"


UNAVAILABLE, MISSING = attachments.AttachmentUnavailable, attachments.AttachmentMissing


@pytest.mark.parametrize(
    ("error", "expected", "marker"),
    [
        (api_error(TRANSPORT, code="ConnectError"), UNAVAILABLE, Transient),
        (api_error(classify(503, "", ""), code="HTTP_503", status=503), UNAVAILABLE, Transient),
        (api_error(files.NOT_FOUND, code="FILE_NOT_FOUND", status=404), MISSING, Terminal),
        (api_error(classify(400, "E"), code="ERROR_ELEMENT_NOT_FOUND"), MISSING, Terminal),
        (api_error(files.TOO_LARGE, code="FILE_TOO_LARGE"), attachments.AttachmentTooLarge, Terminal),
        (api_error(files.NEEDS_APP, code="NO_APP_TOKEN"), attachments.AttachmentRefused, Terminal),
    ],
)  # fmt: skip
def test_failures_are_classified_for_the_outbox(error: Exception, expected: type, marker: type) -> None:
    classified = attachments._classified(error)  # type: ignore[arg-type]
    assert type(classified) is expected and isinstance(classified, marker)


async def test_a_row_without_references_is_sent_as_it_is_and_one_with_them_needs_a_downloader() -> None:
    entry = CATALOG.entry("bank_details")
    submission = RequestSubmission(
        request_id="r", kind="BankDetails", person_ref="p", employee_ref=None, date_from=None, date_to=None,  # type: ignore[arg-type]
        details={}, approvals=(), attachments=(),
    )  # fmt: skip
    assert await attachments.attach(submission, {}, None) is submission
    refs = attachments.references(entry, {"statement": "5"}, iblock_id=1, element_id=2)
    with pytest.raises(attachments.AttachmentRefused):
        await attachments.attach(replace(submission), {attachments.REFS: refs}, None)
