"""A timesheet from pre-fill to 1C through the real service: both sandboxes, the bridge under uvicorn on
loopback, every page opened as Bitrix24 opens it (the sandbox's ``POST /_sandbox/placement/open`` knob
gives the documented call, which this test POSTs to the bound handler).

The story: the mirror runs; a client manager is assigned and invited; the employee's workday is clocked
in Bitrix24; the pre-fill job opens the sheet (1C schedule + the clocked day); the employee submits; the
client manager disputes a day with a reason; the employee corrects and resubmits; the deadline passes
(escalation to the alternate approver); the client and the provider approve — the ``SubmitTimesheet``
row is in the outbox with that approval; 1C reports the sick-leave days as conflicts, which reach the
provider manager; the provider starts a correction (a new version), the employee marks the sick days,
both approve, 1C replaces the document and the first version is superseded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from config.settings import Settings
from config.wiring import Bridge, Store, open_bridge
from core.ids import B24UserId
from portal.store import ONEC_TARGET, SqlPortalData
from processes.engine import verify_chain
from sandbox.bitrix24.testing import RunningSandbox as B24Sandbox
from sandbox.bitrix24.testing import run_sandbox
from sandbox.onec.testing import RunningSandbox as OneCSandbox
from sandbox.onec.testing import onec_sandbox
from sandbox.server import serve_in_thread
from store.models import ClientManager, IdentityLink, OutboxMessage
from sync import managers, run
from timesheets.model import Period, period_of
from webhooks.app import create_app
from webhooks.timesheet_jobs import chase_deadlines, configure_sites, prefill_sites, sheet_id, submit_approved

SECRET = "e2e-portal-secret-0123456789abcdefghij"
pytestmark = pytest.mark.slow


@dataclass
class Service:
    b24: B24Sandbox
    onec: OneCSandbox
    bridge: Bridge
    store: Store
    url: str
    site: str
    employee_ref: str
    person_ref: str
    employee: B24UserId
    client: B24UserId
    provider: B24UserId
    alternate: B24UserId

    def browser(self, user: B24UserId) -> httpx.Client:
        """A browser session of ``user``: the placement call POSTed to the bound handler, its cookie kept."""
        call = self.b24.knobs.open_placement("LEFT_MENU", user, post=False)
        client = httpx.Client(base_url=self.url, timeout=30)
        opened = client.post(call["url"], data=call["form"], follow_redirects=True)
        assert opened.status_code == 200, opened.text
        return client

    def sheet(self, sheet: str) -> Any:
        with self.store.sessions() as session:
            found = SqlPortalData(session).sheet(sheet)
        assert found is not None
        return found


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _post(
    browser: httpx.Client, page: str, target: str, form: dict[str, str] | None = None
) -> httpx.Response:
    """A form of ``page`` sent to ``target`` with the page's CSRF token."""
    csrf = _csrf(browser.get(page).text)
    return browser.post(target, data={"csrf": csrf, **(form or {})})


def _clock_a_day(b24: B24Sandbox, user: B24UserId) -> date:
    """The employee's workday today on the portal's clock (UTC), 01:00–09:30: 8.5 hours, closed."""
    today = datetime.fromtimestamp(float(b24.knobs.clock()["now"]), UTC).date()
    body = {"USER_ID": user, "REPORT": "смена"}
    for method, at in (("timeman.open", "01:00:00"), ("timeman.close", "09:30:00")):
        answer = httpx.post(
            f"{b24.webhook_url}{method}.json", json={**body, "TIME": f"{today}T{at}+00:00"}, timeout=10
        ).json()
        assert "result" in answer, answer
    assert answer["result"]["STATUS"] == "CLOSED" and answer["result"]["DURATION"] == "08:30:00", answer
    return today


@pytest.fixture
async def service(db_url: str, store: Store) -> AsyncIterator[Service]:
    with run_sandbox(rate=1000, burst=1000) as b24, onec_sandbox(seed=11, employees=40) as onec:
        picked = onec.knobs.pick("Employee", n=40, active=True)
        employee = next(e for e in picked if e["current"].get("dept_ref"))
        site = employee["current"]["dept_ref"]
        provider = B24UserId(b24.knobs.add_user({"NAME": "Мария", "LAST_NAME": "Поставщикова"}))
        alternate = B24UserId(b24.knobs.add_user({"NAME": "Игорь", "LAST_NAME": "Заместитель"}))
        settings = Settings(
            database={"url": db_url},
            bitrix24={"webhook_url": b24.webhook_url, "portal_url": b24.base_url},
            onec={"endpoint": onec.endpoint, "username": onec.user, "password": onec.password},
            portal={
                "session_secret": SECRET,
                "cookie_secure": False,
                "provider_managers": [provider, alternate],
                "sites": [
                    {
                        "site": site,
                        "client": "ООО «Северный склад»",
                        "period": "month",
                        "deadline_days": 2,
                        "alternate_approvers": [alternate],
                        "rates": [{"time_kind": "*", "rate": "500.00"}],
                    }
                ],
            },
        )
        bridge = open_bridge(settings, store)
        with serve_in_thread(create_app(settings, store)) as url:
            app_token = b24.knobs.install()["auth"]["access_token"]
            bind = {"PLACEMENT": "LEFT_MENU", "HANDLER": f"{url}/portal/placement", "auth": app_token}
            bound = httpx.post(f"{b24.base_url}/rest/placement.bind.json", json=bind, timeout=10)
            assert bound.json().get("result") is True, bound.text
            refs = (site, employee["ref"], employee["person_ref"])
            try:
                yield Service(
                    b24, onec, bridge, store, url, *refs, B24UserId(0), B24UserId(0), provider, alternate
                )
            finally:
                await bridge.close()


async def test_a_timesheet_from_prefill_to_1c_through_dispute_correction_and_conflict(
    service: Service,
) -> None:
    s, bridge = service, service.bridge
    await run.full(bridge.sync_context())
    with s.store.sessions.begin() as session:
        managers.add(session, "anna@client.example", [s.site], "timesheet_approver", "Анна Клиентова")
    await managers.apply(bridge.b24, s.store.sessions, bridge.mapping)
    with s.store.sessions() as session:
        s.client = B24UserId(session.scalar(select(ClientManager.b24_user_id)) or 0)
        link = session.scalar(
            select(IdentityLink.b24_id).where(
                IdentityLink.kind == "person", IdentityLink.source_ref == s.person_ref
            )
        )
        s.employee = B24UserId(link or 0)
    assert s.client and s.employee, "the mirror and the invitation gave both people a Bitrix24 user"

    # Pre-fill: 1C's schedule, and the employee's closed workday from Bitrix24 time tracking.
    today = _clock_a_day(s.b24, s.employee)
    counts = await prefill_sites(s.store.sessions, bridge.onec, bridge.b24, bridge.settings.portal, today)
    assert counts["sites"] == 1 and counts["opened"] >= 1
    month = s.sheet(sheet_id(s.employee_ref, s.site, _month(today))).sheet
    first = month.sheet_id
    assert month.day(today).hours == Decimal("8.50") and month.day(today).time_kind == "Я"
    again = await prefill_sites(s.store.sessions, bridge.onec, bridge.b24, bridge.settings.portal, today)
    assert again["opened"] == 0  # the same employee, site and period: never a second sheet

    employee, client = s.browser(s.employee), s.browser(s.client)
    cabinet = employee.get("/portal/me")  # an added page, on the same per-request store
    assert cabinet.status_code == 200 and month.period.label in cabinet.text
    page = f"/portal/timesheets/{first}"
    assert _post(employee, page, f"{page}/save", {"action": "submit"}).status_code == 303
    worked = next(d for d in month.days if d.hours and d.day != today)
    fix = {f"kind_{worked.day}": "НН", f"hours_{worked.day}": "0"}
    disputed = _post(client, page, f"{page}/dispute", {"reason": "Не было на объекте", **fix})
    assert disputed.status_code == 303 and s.sheet(first).state == "draft"
    shown = employee.get(page).text
    assert "Не было на объекте" in shown  # the reason, beside the changed day
    assert _post(employee, page, f"{page}/save", {"action": "submit", **fix}).status_code == 303

    # The deadline passes: the alternate approver is named in the history.
    later = datetime.now().astimezone() + timedelta(days=10)
    assert chase_deadlines(s.store.sessions, later)["escalate"] == 1
    assert chase_deadlines(s.store.sessions, later)["escalate"] == 0  # once
    assert _post(client, page, f"{page}/approve").status_code == 303
    provider = s.browser(s.provider)
    assert _post(provider, page, f"{page}/approve").status_code == 303
    assert s.sheet(first).state == "approved"
    with s.store.sessions() as session:
        queued = session.scalars(select(OutboxMessage).where(OutboxMessage.target == ONEC_TARGET)).all()
    assert [m.status for m in queued] == ["pending"]  # written with the approval

    # 1C: the sick-leave days are owned by its document → conflicts for the provider manager.
    free = {d.day for d in month.days if d.hours and d.day.weekday() < 5} - {today, worked.day}
    sick = next([d, d + timedelta(days=1)] for d in sorted(free) if d + timedelta(days=1) in free)
    s.onec.knobs.add_absence(s.employee_ref, "SickLeave", sick[0].isoformat(), sick[-1].isoformat())
    sent = await submit_approved(s.store.sessions, bridge.onec)
    assert sent["conflicts"] == 1
    conflicted = s.sheet(first)
    assert conflicted.state == "conflict"
    assert {row[0] for row in conflicted.history[-1].data["conflicts"]} == {d.isoformat() for d in sick}
    dashboard = provider.get("/portal/").text
    assert first in dashboard and "конфликт с 1С" in dashboard

    # The correction: a new version with its own approvals; 1C replaces the document.
    created = _post(provider, page, f"{page}/correct")
    assert created.status_code == 303
    second = created.headers["location"].split("/timesheets/")[1].split("?")[0]
    assert second != first and s.sheet(second).sheet.version == 2
    sick_days = {f"kind_{d}": "Б" for d in sick} | {f"hours_{d}": "0" for d in sick}
    page2 = f"/portal/timesheets/{second}"
    assert _post(employee, page2, f"{page2}/save", {"action": "submit", **sick_days}).status_code == 303
    assert _post(client, page2, f"{page2}/approve").status_code == 303
    assert _post(provider, page2, f"{page2}/approve").status_code == 303
    assert (await submit_approved(s.store.sessions, bridge.onec))["sent"] == 1
    assert s.sheet(second).state == "submitted" and s.sheet(first).state == "superseded"
    documents = s.onec.knobs.timesheets()
    assert len(documents) == 1
    for sheet in (first, second):
        record = s.sheet(sheet)
        assert verify_chain(sheet, record.history) is None
    events = [t.data["event"] for t in s.sheet(first).history]
    assert events[:4] == ["prefill", "submit", "dispute", "edit"] and "escalate" in events


async def test_an_approved_self_registration_becomes_an_extranet_invitation(service: Service) -> None:
    s, bridge = service, service.bridge
    await run.full(bridge.sync_context())
    assert configure_sites(s.store.sessions, bridge.settings.portal) == 1
    visitor = httpx.Client(base_url=s.url, timeout=30)
    form = {"name": "Сергей Новиков", "company": "ООО «Северный склад»", "email": "s.novikov@client.example",
            "phone": "+7 916 555-33-44"}  # fmt: skip
    assert _post(visitor, "/portal/register", "/portal/register", form).status_code == 303
    with s.store.sessions() as session:
        [pending] = SqlPortalData(session).registrations()
    assert pending.status == "pending"
    await managers.apply(bridge.b24, s.store.sessions, bridge.mapping)
    assert _invited(s.b24, pending.email) == []  # nothing before the approval
    provider = s.browser(s.provider)
    decided = _post(provider, "/portal/", f"/portal/registrations/{pending.registration_id}/decide",
                    {"decision": "approve", "site_ref": s.site, "role": "order_submitter"})  # fmt: skip
    assert decided.status_code == 303
    await managers.apply(bridge.b24, s.store.sessions, bridge.mapping)
    assert len(_invited(s.b24, pending.email)) == 1
    with s.store.sessions() as session:
        row = session.scalar(select(ClientManager).where(ClientManager.email == "s.novikov@client.example"))
    assert row is not None and (row.site_ref, row.role) == (s.site, "order_submitter") and row.b24_user_id


def _invited(b24: B24Sandbox, email: str) -> list[dict[str, Any]]:
    return [i for i in b24.knobs.invitations() if i.get("email") == email]


def _month(day: date) -> Period:
    return period_of("month", day)
