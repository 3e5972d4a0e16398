"""The portal in headless Chromium (Debian's ``chromium``, driven by Playwright; nothing downloaded).

Each person opens the portal as Bitrix24 opens a placement: the sandbox's placement knob gives the
documented call for the bound ``LEFT_MENU`` handler (``AUTH_ID`` of a fresh token of that user,
``member_id``, ``PLACEMENT``, ``PLACEMENT_OPTIONS``…) and the browser POSTs it; the handler verifies the
token with the sandbox's ``user.current``. The test clicks through approve, bulk
approve, dispute, order creation and self-registration and saves screenshots (docs/screenshots/, or
the folder named by EXTRANET_BRIDGE_SCREENSHOTS). Skips when Chromium or Playwright is absent
(``scripts/browser-deps`` installs both).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from connectors.bitrix24.budget import MemoryBudget
from core.ids import B24UserId
from portal.auth import PlacementVerifier, user_gateway
from portal.demo import DemoUsers, demo_app, demo_data
from sandbox.bitrix24.testing import RunningSandbox, run_sandbox
from sandbox.server import serve_in_thread
from tests.browser.chromium import open_placement, playwright_or_skip, shot

playwright_or_skip()

SECRET = "browser-test-secret-0123456789abcdef"


class Portal:
    def __init__(self, sb: RunningSandbox, url: str, users: DemoUsers, data: Any) -> None:
        self.sb, self.url, self.users, self.data = sb, url, users, data

    def open_as(self, page: Any, user_id: B24UserId, placement: str = "LEFT_MENU") -> None:
        open_placement(self.sb, page, user_id, placement)

    def state(self, sheet_id: str) -> str:
        return str(self.data.sheet(sheet_id).state)


@pytest.fixture(scope="module")
def portal() -> Iterator[Portal]:
    with run_sandbox(rate=1000, burst=1000) as sb:
        app_token = sb.knobs.install()["auth"]["access_token"]

        def add(first: str, last: str) -> B24UserId:
            email = f"{first}.{last}@example.test".lower()
            return B24UserId(sb.knobs.add_user({"NAME": first, "LAST_NAME": last, "EMAIL": email}))

        users = DemoUsers(
            add("Petr", "Ivanov"), add("Anna", "K"), add("Oleg", "Z"), add("Boris", "Y"), add("Maria", "P")
        )
        data, service = demo_data(users, date(2026, 3, 20))
        verifier = PlacementVerifier(
            user_gateway(sb.base_url, MemoryBudget(100, 100)), member_id=sb.sandbox.portal.member_id
        )
        app = demo_app(data, service, verifier, session_secret=SECRET, cookie_secure=False)
        with serve_in_thread(app) as url:
            bind = {"PLACEMENT": "LEFT_MENU", "HANDLER": f"{url}/portal/placement", "auth": app_token}
            bound = httpx.post(f"{sb.base_url}/rest/placement.bind.json", json=bind, timeout=10)
            assert bound.json().get("result") is True, bound.text
            yield Portal(sb, url, users, data)


def test_employee_fills_and_submits_on_a_phone(portal: Portal, page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    portal.open_as(page, portal.users.employee)
    shot(page, "employee-dashboard")
    page.click("text=" + "01.03.2026–15.03.2026")
    first_hours = page.locator('input[name^="hours_"]').nth(1)
    first_hours.fill("7,5")
    page.click("#submit")
    assert "Табель отправлен на согласование" in page.inner_text(".ok")
    assert portal.state("sheet-0") == "awaiting:client"
    shot(page, "employee-timesheet-submitted")


def test_approver_approves_disputes_and_bulk_approves(portal: Portal, page: Any) -> None:
    portal.open_as(page, portal.users.approver_a)
    shot(page, "client-dashboard")
    page.click("text=Кузнецов Артём")  # sheet-2 in the pending list
    page.click("#approve")
    assert "Табель согласован" in page.inner_text(".ok")
    assert portal.state("sheet-2") == "awaiting:provider"

    page.goto(f"{portal.url}/portal/timesheets/sheet-1")
    page.select_option('select[name^="kind_2026-03-02"]', "НН")
    page.fill('input[name="hours_2026-03-02"]', "0")
    page.fill("#reason", "02.03 сотрудника не было на объекте")
    page.click("#dispute")
    assert "возвращён сотруднику" in page.inner_text(".ok")
    assert portal.state("sheet-1") == "draft"
    shot(page, "client-dispute")

    page.goto(f"{portal.url}/portal/sites/site-A/timesheets")
    page.check("#all")
    shot(page, "client-timesheet-grid")
    page.click("#bulk-approve")
    assert "Табель согласован" in page.inner_text(".ok")
    assert portal.state("sheet-3") == "awaiting:provider"


def test_order_submitter_creates_a_staff_order(portal: Portal, page: Any) -> None:
    portal.open_as(page, portal.users.submitter_a)
    page.goto(f"{portal.url}/portal/sites/site-A/orders")
    page.fill("#position", "Оператор погрузчика")
    page.fill("#headcount", "3")
    page.fill("#start", "2026-04-01")
    page.fill('textarea[name="details"]', "Ночная смена, допуск к работе на высоте")
    shot(page, "client-order-form")
    page.click("#create-order")
    assert "Заявка создана" in page.inner_text(".ok")
    assert "Оператор погрузчика × 3" in page.inner_text("h1")
    shot(page, "client-order-created")


def test_self_registration_and_provider_approval(portal: Portal, page: Any) -> None:
    page.goto(f"{portal.url}/portal/register")
    page.fill("#name", "Сергей Новиков")
    page.fill("#company", "ООО «Северный склад»")
    page.fill("#email", "s.novikov@example.test")
    page.fill("#phone", "+7 916 555-33-44")
    page.click("#register")
    assert "Менеджер поставщика рассмотрит" in page.inner_text(".ok")
    shot(page, "self-registration")

    portal.open_as(page, portal.users.provider)
    row = page.locator("#registrations li", has_text="s.novikov@example.test")
    row.locator("button", has_text="Одобрить").click()
    assert "Решение по заявке сохранено" in page.inner_text(".ok")
    assert [r.status for r in portal.data.registrations() if r.email == "s.novikov@example.test"] == [
        "approved"
    ]
    shot(page, "provider-dashboard")
