"""The portal's pages over HTTP: placement verification with the sandbox, CSRF, the timesheet round
(submit, dispute, resubmit, approve, bulk approve, provider approval, correction), orders, registration,
and a manager of site A reaching nothing of site B in pages, API, exports and resumes."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient
from portal_world import World

from connectors.onec.port import EmploymentRef, TimesheetConflict
from portal.throttle import RegistrationLimit
from timesheets.onec import SheetOutcome


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf(?:-token)?" (?:value|content)="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def test_the_placement_is_verified_with_bitrix24_and_opens_as_that_user(
    world: World, client: TestClient
) -> None:
    assert client.get("/portal/").status_code == 401
    world.open_as(client, world.users.approver_a)
    page = client.get("/portal/")
    assert page.status_code == 200 and "Анна Клиентова" in page.text
    assert "Северный склад" in page.text
    refused = client.post(
        "/portal/placement", data=world.placement_body(world.users.approver_a, AUTH_ID="forged")
    )
    assert refused.status_code == 403 and "не подтвердил" in refused.text
    other = client.post(
        "/portal/placement", data=world.placement_body(world.users.approver_a, member_id="another-portal")
    )
    assert other.status_code == 403 and "другого портала" in other.text
    stranger = world.sb.knobs.add_user({"NAME": "X", "LAST_NAME": "Y", "EMAIL": "x.y@example.test"})
    denied = client.post("/portal/placement", data=world.placement_body(str(stranger)))
    assert denied.status_code == 403 and "Доступ не настроен" in denied.text


def test_every_form_needs_the_session_csrf_token(world: World, client: TestClient) -> None:
    world.open_as(client, world.users.approver_a)
    assert client.post("/portal/timesheets/sheet-1/approve", data={}).status_code == 403
    assert client.post("/portal/timesheets/sheet-1/approve", data={"csrf": "guess"}).status_code == 403
    assert world.data.sheet("sheet-1").state == "awaiting:client"


def test_a_timesheet_round_with_a_dispute_bulk_approval_and_a_correction(
    world: World, client: TestClient
) -> None:
    # The client approver disputes sheet-1, proposing 0 hours on its first working day.
    world.open_as(client, world.users.approver_a)
    sheet = world.data.sheet("sheet-1")
    assert sheet is not None
    first = next(d for d in sheet.sheet.days if d.hours)
    html = client.get("/portal/timesheets/sheet-1").text
    form = {
        "csrf": _csrf(html),
        "reason": "Не был на объекте",
        f"kind_{first.day}": "НН",
        f"hours_{first.day}": "0",
    }
    assert client.post("/portal/timesheets/sheet-1/dispute", data=form).status_code == 200
    assert world.data.sheet("sheet-1").state == "draft"

    # The employee of sheet-1 sees the reason and the proposal side by side, corrects and resubmits.
    world.data.principals[world.users.employee] = world.data.principals[world.users.employee].__class__(
        world.users.employee, "employee", "Смирнова Ольга", employee_ref="emp-1", employee_site="site-A"
    )
    world.open_as(client, world.users.employee)
    html = client.get("/portal/timesheets/sheet-1").text
    assert "Не был на объекте" in html and "Предложено согласующим" in html
    form = {"csrf": _csrf(html), "action": "submit", f"kind_{first.day}": "НН", f"hours_{first.day}": "0"}
    assert client.post("/portal/timesheets/sheet-1/save", data=form).status_code == 200
    assert world.data.sheet("sheet-1").state == "awaiting:client"

    # Bulk approval of sheets 1..3 by the approver, who now sees what changed after the dispute.
    world.open_as(client, world.users.approver_a)
    assert "Изменено после спора" in client.get("/portal/timesheets/sheet-1").text
    html = client.get("/portal/sites/site-A/timesheets").text
    bulk = {"csrf": _csrf(html), "sheet_id": ["sheet-1", "sheet-2", "sheet-3"]}
    assert client.post("/portal/sites/site-A/timesheets/approve", data=bulk).status_code == 200
    assert {world.data.sheet(f"sheet-{n}").state for n in (1, 2, 3)} == {"awaiting:provider"}
    not_mine = client.post("/portal/timesheets/sheet-1/approve", data={"csrf": _csrf(html)})
    assert not_mine.status_code == 403 and "не ваш" in not_mine.text

    # The provider manager approves; the sheet locks; a correction is a new version superseding it.
    world.open_as(client, world.users.provider)
    html = client.get("/portal/timesheets/sheet-1").text
    assert client.post("/portal/timesheets/sheet-1/approve", data={"csrf": _csrf(html)}).status_code == 200
    assert world.data.sheet("sheet-1").state == "approved"
    world.open_as(client, world.users.employee)
    html = client.get("/portal/timesheets/sheet-1").text
    locked = client.post(
        "/portal/timesheets/sheet-1/save", data={"csrf": _csrf(html), f"hours_{first.day}": "8"}
    )
    assert locked.status_code == 400 and "согласован" in locked.text
    world.open_as(client, world.users.provider)
    html = client.get("/portal/timesheets/sheet-1").text
    corrected = client.post("/portal/timesheets/sheet-1/correct", data={"csrf": _csrf(html)})
    assert corrected.status_code == 200 and "версия 2" in corrected.text
    assert world.data.sheet("sheet-1").state == "approved"


def test_orders_are_created_and_tracked_by_the_order_submitter_only(world: World, client: TestClient) -> None:
    world.open_as(client, world.users.approver_a)
    html = client.get("/portal/sites/site-A/orders").text
    assert 'id="order-form"' not in html
    denied = client.post("/portal/sites/site-A/orders", data={"csrf": _csrf(client.get("/portal/").text)})
    assert denied.status_code == 403
    world.open_as(client, world.users.submitter_a)
    html = client.get("/portal/sites/site-A/orders").text
    form = {
        "csrf": _csrf(html),
        "kind": "order",
        "position": "Грузчик",
        "headcount": "3",
        "start": "2026-04-01",
        "details": "Ночная смена",
    }
    created = client.post("/portal/sites/site-A/orders", data=form)
    assert created.status_code == 200 and "Грузчик × 3" in created.text and "новая" in created.text
    bad = client.post("/portal/sites/site-A/orders", data={**form, "headcount": "0"})
    assert bad.status_code == 400 and "от 1 до 500" in bad.text


def test_self_registration_waits_for_the_provider(world: World, client: TestClient) -> None:
    html = client.get("/portal/register").text
    form = {
        "csrf": _csrf(html),
        "name": "<b>Сергей</b> Новый",
        "company": "ООО Клиент",
        "email": "s.new@example.test",
        "phone": "+7 916 555-77-88",
    }
    assert client.post("/portal/register", data={**form, "phone": "123"}).status_code == 400
    assert client.post("/portal/register", data=form).status_code == 200
    pending = [r for r in world.data.registrations() if r.email == "s.new@example.test"]
    assert [r.status for r in pending] == ["pending"]
    world.open_as(client, world.users.provider)
    html = client.get("/portal/").text
    assert "&lt;b&gt;Сергей&lt;/b&gt; Новый" in html and "<b>Сергей" not in html  # escaped, not markup
    decide = {"csrf": _csrf(html), "decision": "approve", "site_ref": "site-A", "role": "order_submitter"}
    assert (
        client.post(f"/portal/registrations/{pending[0].registration_id}/decide", data=decide).status_code
        == 200
    )
    assert pending[0].status == "approved"
    assert [(r.email, r.site_ref, r.role) for r in world.data.granted] == [
        ("s.new@example.test", "site-A", "order_submitter")
    ]


def test_a_manager_of_site_a_reaches_nothing_of_site_b(world: World, client: TestClient) -> None:
    world.open_as(client, world.users.approver_a)
    dashboard = client.get("/portal/").text
    assert "Южный терминал" not in dashboard and "emp-4.pdf" not in dashboard and "emp-0.pdf" in dashboard
    for path in (
        "/portal/sites/site-B/timesheets",
        "/portal/timesheets/sheet-4",
        "/portal/sites/site-B/orders",
        "/portal/sites/site-B/billing.csv",
        "/portal/sites/site-B/billing.xlsx",
        "/portal/api/sites/site-B/timesheets",
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Васильев" not in response.text and "Соколова" not in response.text
    csrf = _csrf(dashboard)
    assert client.post("/portal/timesheets/sheet-4/approve", data={"csrf": csrf}).status_code == 403
    bulk = {"csrf": csrf, "sheet_id": ["sheet-1", "sheet-4"]}  # one of A, one of B: nothing is approved
    assert client.post("/portal/sites/site-A/timesheets/approve", data=bulk).status_code == 403
    assert client.post("/portal/sites/site-B/timesheets/approve", data=bulk).status_code == 403
    assert world.data.sheet("sheet-4").state == "awaiting:client"
    assert world.data.sheet("sheet-1").state == "awaiting:client"
    listed = client.get("/portal/api/sites/site-A/timesheets").json()
    assert sorted(r["employee_ref"] for r in listed) == ["emp-0", "emp-1", "emp-2", "emp-3"]


def test_the_billing_export_counts_approved_hours_only(world: World, client: TestClient) -> None:
    for n in (1, 2):
        record = world.data.sheet(f"sheet-{n}")
        assert record is not None
        world.service.approve(world.data.principals[world.users.approver_a], f"sheet-{n}")
        world.service.approve(world.data.principals[world.users.provider], f"sheet-{n}")
    world.open_as(client, world.users.approver_a)
    response = client.get("/portal/sites/site-A/billing.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff")), delimiter=";"))[1:]
    expected = sum((world.data.sheet(f"sheet-{n}").sheet.total() for n in (1, 2)), Decimal(0))
    assert {r[2] for r in rows} == {"emp-1", "emp-2"}
    assert sum(Decimal(r[7]) for r in rows) == expected
    assert sum(Decimal(r[9]) for r in rows) == expected * Decimal("520.00")


def test_the_provider_sees_1c_conflicts_and_closes_them(world: World, client: TestClient) -> None:
    world.service.approve(world.data.principals[world.users.approver_a], "sheet-2")
    world.service.approve(world.data.principals[world.users.provider], "sheet-2")
    conflict = TimesheetConflict(EmploymentRef("emp-2"), date(2026, 3, 3), "Больничный лист 00ЗУ-000045")
    world.service.record_onec(
        SheetOutcome("sheet-2", "onec_conflicts", "дни заняты документами 1С", (conflict,))
    )
    world.open_as(client, world.users.approver_a)
    assert 'id="resolve"' not in client.get("/portal/timesheets/sheet-2").text
    world.open_as(client, world.users.provider)
    html = client.get("/portal/timesheets/sheet-2").text
    assert "Больничный лист 00ЗУ-000045" in html and 'id="resolve"' in html
    assert (
        client.post(
            "/portal/timesheets/sheet-2/resolve", data={"csrf": _csrf(html), "reason": " "}
        ).status_code
        == 400
    )
    closed = client.post(
        "/portal/timesheets/sheet-2/resolve", data={"csrf": _csrf(html), "reason": "день за больничным"}
    )
    assert closed.status_code == 200 and "Конфликт с 1С закрыт" in closed.text
    assert world.data.sheet("sheet-2").state == "submitted"


def test_the_registration_form_is_throttled_per_address_with_retry_after(
    world: World, client: TestClient
) -> None:
    html = client.get("/portal/register").text
    form = {"csrf": _csrf(html), "name": "Сергей", "company": "ООО Клиент", "phone": "+7 916 555-77-88"}
    answers = [
        client.post("/portal/register", data={**form, "email": f"s{n}@example.test"}) for n in range(6)
    ]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 3600 and "попробуйте через" in answers[-1].text
    assert len([r for r in world.data.registrations() if r.email.startswith("s")]) == 5


def test_one_e_mail_address_is_throttled_from_any_ip() -> None:
    limit = RegistrationLimit(per_hour=2)
    assert limit.retry_after("10.0.0.1", "A@example.test") is None
    assert limit.retry_after("10.0.0.2", "a@example.test ") is None
    wait = limit.retry_after("10.0.0.3", "a@example.test")
    assert wait is not None and 0 < wait <= 3600
    assert limit.retry_after("10.0.0.3", "b@example.test") is None
