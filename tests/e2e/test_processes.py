"""Issue 13 end to end, both sandboxes and the bridge on loopback: the employee files a request in the
Bitrix24 list, its workflow calls the bridge out, the approvers decide in Bitrix24, 1C receives one
document, and 1C's answer travels back to the employee (im.notify, the calendar, the certificate in Drive).
The same call-outs delivered again and in reverse order change nothing; 1C down for a while loses and
doubles nothing."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from portal.models import PortalSite
from processes.activities import ALL
from processes.bank_account import account_key_ok
from sandbox.bitrix24.params import encode_form
from store.models import InboxMessage, OutboxMessage, ProcessInstance, SourceRecord
from store.process_repo import ProcessRepository
from tests.integration.processes._flow import World, new_user

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LEAVE = {"leave_kind": "annual", "date_from": "2026-07-01", "date_to": "2026-07-10"}


def _instance(w: World, element: int) -> ProcessInstance:
    with w.store.sessions() as session:
        found = session.scalar(select(ProcessInstance).where(ProcessInstance.b24_element_id == element))
        assert found is not None, f"no request for element {element}"
        session.expunge(found)
        return found


def _path(w: World, request_id: str) -> list[str]:
    with w.store.sessions() as session:
        repo = ProcessRepository(session)
        assert repo.verify(request_id) is None
        return [t.to_state for t in repo.history(request_id)]


def _in_1c(w: World, request_id: str) -> list[dict[str, Any]]:
    return [r for r in w.onec_sb.knobs.requests() if r["request_id"] == request_id]


def _workflow(w: World, element: int) -> dict[str, Any]:
    rows = w.b24.knobs._get("/_sandbox/bizproc/workflows")
    rows = rows.get("workflows", rows) if isinstance(rows, dict) else rows
    [found] = [r for r in rows if str(r["document_id"][2]) == str(element)]
    return dict(found)


async def _approve_all(w: World) -> None:
    await w.pump()
    for _ in range(4):
        if not (w.decide(w.client) + w.decide(w.manager)):
            return
        await w.pump()


async def test_a_leave_goes_from_the_form_to_1c_and_back_to_the_calendar(w: World) -> None:
    element = w.file("leave", LEAVE)
    await w.pump()
    assert w.decide(w.manager) == 0, "the provider's task came before the client's"
    assert w.decide(w.client) == 1
    await w.pump()
    assert w.decide(w.manager) == 1
    await w.pump()
    request = _instance(w, element)
    [doc] = _in_1c(w, request.request_id)
    assert doc["kind"] == "Leave" and (doc["date_from"], doc["date_to"]) == ("2026-07-01", "2026-07-10")
    assert [a["who"] for a in doc["approvals"]] == [f"user_{w.client.uid}", f"user_{w.manager.uid}"]
    assert doc["person_ref"] == w.person_ref and request.data["b24_user_id"] == w.employee.uid
    assert _path(w, request.request_id)[-1] == "submitted"
    w.onec_sb.knobs.decide(request.request_id)
    await w.pump()
    path = _path(w, request.request_id)
    assert path == ["received", "awaiting:client", "awaiting:provider", "approved", "submitted", "submitted",
                    "done"] or path[-1] == "done", path  # fmt: skip
    told = w.notifications(w.employee.uid)
    assert "Отпуск согласован и передан в отдел кадров." in told  # the workflow, after 1C accepted
    assert "Отпуск оформлен. Он появится в вашем календаре." in told  # the bridge, from 1C's answer
    [event] = w.calendar(w.employee.uid)
    assert (event["DATE_FROM"], event["DATE_TO"], event["ACCESSIBILITY"]) == (
        "07/01/2026",
        "07/10/2026",
        "absent",
    )
    assert _workflow(w, element)["state"] == "completed"
    await w.pump()
    assert len(w.calendar(w.employee.uid)) == 1 and len(_in_1c(w, request.request_id)) == 1


async def test_an_invalid_form_never_reaches_1c_and_the_employee_reads_why(w: World) -> None:
    element = w.file("leave", {**LEAVE, "date_to": "2026-06-20"})
    await _approve_all(w)
    request = _instance(w, element)
    assert _path(w, request.request_id) == ["received", "invalid"]
    assert w.onec_sb.knobs.requests() == [] and w.tasks(w.client) == []
    [told] = [m for m in w.notifications(w.employee.uid) if "не отправлено" in m]
    assert "раньше даты начала" in told


async def test_a_sick_notice_reaches_1c_and_the_answer_reaches_the_employee(w: World) -> None:
    element = w.file("sick_notice", {"date_from": "2026-03-02", "date_to": "2026-03-06"})
    await _approve_all(w)
    request = _instance(w, element)
    [doc] = _in_1c(w, request.request_id)
    assert doc["kind"] == "SickNotice" and doc["date_from"] == "2026-03-02"
    w.onec_sb.knobs.decide(request.request_id)
    await w.pump()
    assert _path(w, request.request_id)[-1] == "done"
    assert "Отсутствие по болезни зарегистрировано." in w.notifications(w.employee.uid)
    assert w.calendar(w.employee.uid) == []  # only a leave is put in the calendar


async def test_a_certificate_ends_as_a_pdf_in_the_employees_drive(w: World) -> None:
    element = w.file("certificate", {"certificate_kind": "employment", "purpose": "В банк"})
    await _approve_all(w)
    request = _instance(w, element)
    [doc] = _in_1c(w, request.request_id)
    assert doc["kind"] == "Certificate"
    w.onec_sb.knobs.decide(request.request_id)
    await w.pump()
    request = _instance(w, element)
    assert request.state == "done" and request.data.get("drive_file_url")
    content = w.http.get(f"{w.b24.base_url}/_sandbox/disk/files/{request.data['drive_file_id']}")
    assert content.status_code == 200 and base64.b64decode(content.json()["content"]).startswith(b"%PDF")
    assert content.json()["name"].endswith(".pdf")
    told = w.notifications(w.employee.uid)
    assert any(request.data["drive_file_url"] in m for m in told), told  # the workflow's A_document_tell
    assert _workflow(w, element)["state"] == "completed"


SCAN = ["scan.pdf", base64.b64encode(b"%PDF-1.4 scan").decode()]
SBER = "044525225"


def _account(bik: str) -> str:
    """A client account that passes the Central Bank key for ``bik`` (the 9th digit is the key)."""
    return next(a for d in "0123456789" if account_key_ok(bik, a := f"40817810{d}00000012345"))


OTHERS: dict[str, tuple[dict[str, Any], str]] = {
    "leave_change": ({"action": "cancel", "original_request": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                      "reason": "Изменились планы"}, "LeaveCancel"),
    "vacation_wish": ({"year": "2027", "date_from": "2027-07-01", "date_to": "2027-07-14"}, "VacationWish"),
    "business_trip": ({"destination": "Казань", "purpose": "Монтаж", "date_from": "2026-04-01",
                       "date_to": "2026-04-03"}, "BusinessTrip"),
    "advance": ({"amount": "15000", "purpose": "Инструмент", "report_by": "2026-04-30"}, "Advance"),
    "bank_details": ({"bik": SBER, "account": _account(SBER), "statement": SCAN}, "BankDetails"),
    "child_tax_deduction": ({"child_name": "Иванова Мария", "child_birth_date": "2020-05-01",
                             "child_order": "1", "birth_certificate": SCAN, "statement": SCAN},
                            "TaxDeduction"),
    "work_book": ({"request_kind": "stdr", "delivery": "email"}, "WorkBook"),
    "dismissal": ({"last_day": "2026-04-15", "reason": "own", "statement": SCAN}, "Dismissal"),
}  # fmt: skip


async def test_other_launch_processes_reach_1c(w: World) -> None:
    elements = {kind: w.file(kind, values) for kind, (values, _) in OTHERS.items()}
    await _approve_all(w)
    for kind, element in elements.items():
        request = _instance(w, element)
        assert [d["kind"] for d in _in_1c(w, request.request_id)] == [OTHERS[kind][1]], _path(
            w, request.request_id
        )


async def test_call_outs_twice_and_out_of_order_submit_once(w: World) -> None:
    element = w.file("leave", LEAVE)
    await _approve_all(w)
    request = _instance(w, element)
    before = _path(w, request.request_id)
    codes = {a.code for a in ALL}
    sent = [d["payload"] for d in w.b24.knobs.deliveries() if d["payload"].get("code") in codes]
    assert len(sent) >= 4
    async with httpx.AsyncClient(base_url=w.bridge_url) as http:
        for payload in [*sent, *reversed(sent)]:  # every call-out again, then all of them backwards
            answer = await http.post("/bitrix24/activity", content=encode_form(payload), headers=FORM)
            assert answer.json() == {"received": True, "duplicate": True}
    await w.pump()
    assert len(_in_1c(w, request.request_id)) == 1 and _path(w, request.request_id) == before
    with w.store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxMessage)) == len(sent)
        assert session.scalar(select(func.count()).where(OutboxMessage.kind == "SubmitRequest")) == 1
    # A call-out Bitrix24 sends anew for the same request (a new event token) meets the request's state.
    resent = {**next(p for p in sent if p["code"] == "eb_submit_to_1c")}
    resent["event_token"] = resent["event_token"][:-5] + "00000"
    resent["event_token"] = resent["event_token"].rsplit("|", 1)[0] + "|" + "b" * 32 + ".0123456789abcdef"
    async with httpx.AsyncClient(base_url=w.bridge_url) as http:
        answer = await http.post("/bitrix24/activity", content=encode_form(resent), headers=FORM)
    assert answer.json()["duplicate"] is False
    await w.pump()
    assert len(_in_1c(w, request.request_id)) == 1 and _path(w, request.request_id) == before


async def test_1c_down_for_a_while_loses_and_doubles_nothing(w: World) -> None:
    w.onec_sb.knobs.fault("proxy_502", operations=["SubmitRequest"], count=None)
    elements = [
        w.file("leave", LEAVE),
        w.file("sick_notice", {"date_from": "2026-03-02", "date_to": "2026-03-03"}),
    ]
    await _approve_all(w)
    requests = [_instance(w, e) for e in elements]
    assert [r.state for r in requests] == ["approved", "approved"]
    assert w.onec_sb.knobs.requests() == []
    w.onec_sb.knobs.clear_faults()
    await w.pump()
    for request in requests:
        assert len(_in_1c(w, request.request_id)) == 1
        assert _path(w, request.request_id)[-1] == "submitted"
    for element in elements:  # the waiting submit steps were answered: the workflows went on
        assert _workflow(w, element)["state"] == "completed"


async def test_lost_decision_call_outs_still_name_the_approvers_in_1c(w: World) -> None:
    element = w.file("leave", LEAVE)
    await w.pump()
    w.decide(w.client)
    w.flush()
    w.decide(w.manager)
    w.flush()
    with w.store.sessions.begin() as session:  # Bitrix24 never retries a delivery (§6.2): these are lost
        lost = session.scalars(select(InboxMessage).where(InboxMessage.kind == "eb_record_decision")).all()
        assert len(lost) == 2
        for message in lost:
            session.delete(message)
    await w.pump()
    [doc] = _in_1c(w, _instance(w, element).request_id)
    assert [(a["who"], a["role"]) for a in doc["approvals"]] == [
        (f"user_{w.client.uid}", "client"),
        (f"user_{w.manager.uid}", "provider"),
    ]


async def test_a_leave_longer_than_the_balance_is_refused_before_any_approval(w: World) -> None:
    hired = date.today() - timedelta(days=40)  # one full month worked: 28 / 12 = 2.33 days earned
    with w.store.sessions.begin() as session:
        record = session.scalar(select(SourceRecord).where(SourceRecord.entity == "Employee"))
        assert record is not None
        payload = dict(record.payload)
        payload["current"] = {**payload["current"], "hire_date": hired.isoformat()}
        record.payload = payload
    element = w.file("leave", LEAVE)
    await _approve_all(w)
    request = _instance(w, element)
    assert _path(w, request.request_id) == ["received", "invalid"]
    assert any("больше остатка: доступно 2.33 дн." in m for m in w.notifications(w.employee.uid))
    assert w.onec_sb.knobs.requests() == []


async def test_someone_the_mirror_does_not_know_is_told_and_nothing_goes_on(w: World) -> None:
    stranger = new_user(w.b24, "Stranger")
    element = w.file("sick_notice", {"date_from": "2026-03-02", "date_to": "2026-03-03"}, who=stranger)
    await _approve_all(w)
    assert _path(w, _instance(w, element).request_id) == ["received", "invalid"]
    assert any("не найдены среди сотрудников" in m for m in w.notifications(stranger.uid))
    assert w.onec_sb.knobs.requests() == []


async def test_a_site_without_its_approver_is_told_instead_of_a_task_for_nobody(w: World) -> None:
    with w.store.sessions.begin() as session:
        site = session.scalar(select(PortalSite))
        assert site is not None
        site.settings = {"provider_managers": [str(w.manager.uid)]}  # no client approver named
    element = w.file("sick_notice", {"date_from": "2026-03-02", "date_to": "2026-03-03"})
    await _approve_all(w)
    assert _path(w, _instance(w, element).request_id) == ["received", "invalid"]
    assert any("не назначен согласующий" in m for m in w.notifications(w.employee.uid))
    assert w.onec_sb.knobs.requests() == []
