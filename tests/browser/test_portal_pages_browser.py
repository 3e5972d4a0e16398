"""The portal's added pages in headless Chromium (Debian's ``chromium`` driven by Playwright; nothing
downloaded): each person opens the portal as Bitrix24 opens a placement (the sandbox's knob gives the
documented call; the browser POSTs it), then the employee's cabinet (acknowledging a regulation), the
provider manager's view and summaries, resumes generated into the site group's Drive, who is working
today and the notification preferences; screenshots go to docs/screenshots/ (or
EXTRANET_BRIDGE_SCREENSHOTS). Skips when Chromium or Playwright is absent."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from config.wiring import Store
from sandbox.bitrix24.testing import run_sandbox
from sandbox.onec.testing import onec_sandbox
from sandbox.server import free_port, serve_in_thread
from tests.browser.chromium import ROOT, open_placement, playwright_or_skip, shot

playwright_or_skip()
sys.path.insert(0, str(ROOT / "tests" / "integration" / "portal"))
from own_pages_world import NOW, Pages, build_pages, publish_regulations  # noqa: E402


@pytest.fixture
def world(store: Store) -> Iterator[tuple[Pages, str]]:
    with (
        onec_sandbox(seed=7, employees=30, today=date(2026, 3, 20), frozen_clock=True) as onec_sb,
        run_sandbox(rate=1000, burst=1000) as sb,
    ):
        port = free_port()
        pages = build_pages(sb, onec_sb, store, handler_base=f"http://127.0.0.1:{port}")
        publish_regulations(pages)
        with serve_in_thread(pages.app, port=port) as url:
            yield pages, url


def open_as(pages: Pages, page: Any, who: str) -> None:
    open_placement(pages.sb, page, int(pages.users[who]))


def test_the_added_pages_in_a_browser(world: tuple[Pages, str], page: Any) -> None:
    pages, url = world
    # The employee on a phone: the cabinet, a regulation acknowledged.
    page.set_viewport_size({"width": 390, "height": 844})
    open_as(pages, page, "employee")
    page.click("text=Мой кабинет")
    page.click("#regulations button")
    assert "ознакомились" in page.inner_text(".ok") and "ознакомлен 20.03.2026" in page.inner_text(
        "#regulations"
    )
    assert page.locator("#schedule th").count() == 14
    shot(page, "employee-cabinet")

    # The provider manager: sites and managers, a site's summaries, resumes generated into the Drive.
    page.set_viewport_size({"width": 1100, "height": 900})
    open_as(pages, page, "provider")
    page.click("text=Объекты и клиенты")
    assert "Анна Клиентова" in page.inner_text("#site-site-A")
    shot(page, "provider-sites")
    page.goto(f"{url}/portal/provider/sites/site-A")
    shot(page, "provider-summaries")
    page.goto(f"{url}/portal/sites/site-A/resumes")
    page.click("text=Сформировать недостающие из 1С")
    assert "Резюме сформированы" in page.inner_text(".ok") and "открыть · HTML" in page.inner_text("#resumes")
    shot(page, "provider-resumes")

    # The client manager of site A: resumes, who is working today, notification preferences.
    pages.sb.knobs.freeze(datetime(2026, 3, 20, 9, 5, tzinfo=UTC).timestamp())
    pages.rest("timeman.open", {"USER_ID": int(pages.users["A0"])})
    pages.sb.knobs.freeze(NOW.timestamp())
    open_as(pages, page, "approver_a")
    page.click("text=Резюме")
    assert "открыть · HTML" in page.inner_text("#resumes")
    shot(page, "client-resumes")
    page.goto(f"{url}/portal/")
    page.click("text=Кто работает сегодня")
    assert "на работе" in page.inner_text("#today")
    shot(page, "client-who-is-working")
    page.goto(f"{url}/portal/notifications")
    page.check('input[name="timesheet_submitted__email"]')
    page.click("#preferences button")
    assert "Настройки уведомлений сохранены" in page.inner_text(".ok")
    assert page.is_checked('input[name="timesheet_submitted__email"]')
    shot(page, "client-notification-preferences")
    page.goto(f"{url}/portal/sites/site-B/resumes")
    assert "Нет доступа" in page.inner_text(".problem")
