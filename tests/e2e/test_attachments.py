"""A request's scans reach 1C byte for byte: the outbox row holds file references only, and the 1C worker
downloads the files from the Bitrix24 list (``lists.element.get.file.url`` and its links) before it sends
``SubmitRequest`` (processes/attachments.py). A file gone from the portal dead-letters the row with its
reason and sends nothing."""

from __future__ import annotations

import base64
import hashlib
import json

from sqlalchemy import select

from processes import attachments
from processes.bank_account import account_key_ok
from processes.onec_outbox import decode_submission
from sandbox.bitrix24.procs_common import lock
from sandbox.bitrix24.procs_lists_model import state
from store.models import OutboxMessage, ProcessInstance
from tests.integration.processes._flow import World

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00JFIF" + bytes(reversed(range(256))) * 16
SBER = "044525225"


def _b64(name: str, content: bytes) -> list[str]:
    return [name, base64.b64encode(content).decode()]


def _request(w: World, element: int) -> ProcessInstance:
    with w.store.sessions() as session:
        found = session.scalar(select(ProcessInstance).where(ProcessInstance.b24_element_id == element))
        assert found is not None
        session.expunge(found)
        return found


def _row(w: World, request_id: str) -> OutboxMessage:
    with w.store.sessions() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key.endswith(request_id)))
        assert row is not None
        session.expunge(row)
        return row


async def _approve(w: World, *, onec: bool = True) -> None:
    await w.pump(onec=onec)
    for _ in range(4):
        if not (w.decide(w.client) + w.decide(w.manager)):
            return
        await w.pump(onec=onec)


async def test_tax_deduction_scans_reach_1c_with_their_bytes(w: World) -> None:
    values = {
        "child_name": "Иванова Мария",
        "child_birth_date": "2020-05-01",
        "child_order": "1",
        "birth_certificate": _b64("свидетельство.pdf", PDF),
        "statement": _b64("заявление.jpg", JPEG),
    }
    element = w.file("child_tax_deduction", values)
    await _approve(w)
    request = _request(w, element)
    [doc] = [r for r in w.onec_sb.knobs.requests() if r["request_id"] == request.request_id]
    assert [(a["name"], a["mime"], a["size"], a["sha256"]) for a in doc["attachments"]] == [
        ("свидетельство.pdf", "application/pdf", len(PDF), hashlib.sha256(PDF).hexdigest()),
        ("заявление.jpg", "image/jpeg", len(JPEG), hashlib.sha256(JPEG).hexdigest()),
    ]
    row = _row(w, request.request_id)
    assert row.status == "sent" and row.payload["attachments"] == []
    assert [r["field"] for r in row.payload["attachment_refs"]] == ["birth_certificate", "statement"]
    assert len(json.dumps(row.payload)) < 4000  # references, not the files


async def test_a_file_gone_before_sending_dead_letters_the_row(w: World) -> None:
    account = next(a for d in "0123456789" if account_key_ok(SBER, a := f"40817810{d}00000012345"))
    element = w.file("bank_details", {"bik": SBER, "account": account, "statement": _b64("scan.pdf", PDF)})
    await _approve(w, onec=False)
    request = _request(w, element)
    assert request.state == "approved"
    [ref] = _row(w, request.request_id).payload["attachment_refs"]
    portal = w.b24.sandbox.portal
    with lock(portal):  # the file vanished from the portal (its element still names it)
        del state(portal).files[int(ref["file_id"])]
    await w.pump()
    row = _row(w, request.request_id)
    assert (row.status, row.last_error) == ("failed", "AttachmentMissing")
    assert [r for r in w.onec_sb.knobs.requests() if r["request_id"] == request.request_id] == []
    assert _request(w, element).state == "approved"


async def test_a_file_gone_after_1c_already_got_the_request_settles_the_row(w: World) -> None:
    """A claim delivered the request with its scan and crashed before settling; the scan is then deleted.
    The next claim cannot download it, asks 1C, learns 1C has the request, and settles instead."""
    account = next(a for d in "0123456789" if account_key_ok(SBER, a := f"40817810{d}00000012345"))
    element = w.file("bank_details", {"bik": SBER, "account": account, "statement": _b64("scan.pdf", PDF)})
    await _approve(w, onec=False)
    request = _request(w, element)
    row = _row(w, request.request_id)
    earlier = await attachments.attach(decode_submission(row.payload), row.payload, w.gateway)
    assert (await w.onec.submit_request(earlier)).status == "Created"  # its answer "lost"
    portal = w.b24.sandbox.portal
    with lock(portal):
        del state(portal).files[int(row.payload["attachment_refs"][0]["file_id"])]
    await w.pump()
    assert _row(w, request.request_id).status == "sent"
    [doc] = [r for r in w.onec_sb.knobs.requests() if r["request_id"] == request.request_id]
    assert [a["sha256"] for a in doc["attachments"]] == [hashlib.sha256(PDF).hexdigest()]
    assert _request(w, element).state == "submitted"
