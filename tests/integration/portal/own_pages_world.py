"""A world for the portal's added pages: the Bitrix24 sandbox (placements, groups and their Drives,
time tracking) with the app installed, the 1C sandbox (schedules), and the state store (notifications,
regulations). Team members are real 1C employments; every person is a sandbox user."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from portal_world import HANDLER_BASE, SECRET, bind_placement

from config.settings import OneCSettings, Settings
from config.wiring import Store
from connectors.bitrix24.auth import MemoryVault, OAuthTokens, TokenPair
from connectors.bitrix24.budget import MemoryBudget
from connectors.bitrix24.gateway import Bitrix24Gateway, RetryPolicy
from connectors.onec import build_onec
from connectors.onec.connector import OneCConnector
from connectors.onec.connector import RetryPolicy as OneCRetry
from connectors.onec.port import Employee, ScheduleDay
from core.ids import B24UserId
from portal.access import Principal
from portal.auth import PlacementVerifier, user_gateway
from portal.data import EmployeeCard, InvitationRow, MemoryData, RequestRow, Site, TeamMember
from portal.demo import demo_app
from portal.pages import PortalPorts
from portal.service import PortalService
from processes.engine import Transition
from processes.regulations import AckEvent, ack_id, record
from sandbox.bitrix24.testing import RunningSandbox
from sandbox.onec.testing import RunningSandbox as OneCSandbox
from store.regulations import RegulationDocument, Regulations
from timesheets.model import Period, SiteSettings, Timesheet
from timesheets.prefill import prefill

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
NAMES = {"A0": "Иванов Пётр", "A1": "Смирнова Ольга", "B0": "Васильев Илья", "B1": "Соколова Анна"}
MARCH = Period(date(2026, 3, 1), date(2026, 3, 15))


@dataclass
class Pages:
    sb: RunningSandbox
    users: dict[str, B24UserId]
    """employee, approver_a, approver_b, provider, and A0…B1 (the team)."""
    refs: dict[str, str]
    """A0…B1 → 1C employment ref."""
    persons: dict[str, str]
    """A0…B1 → 1C person ref."""
    groups: dict[str, int]
    data: MemoryData
    service: PortalService
    app: FastAPI
    store: Store
    gateway: Bitrix24Gateway
    onec: OneCConnector
    clock: list[datetime]

    def open_as(self, client: TestClient, who: str) -> None:
        call = self.sb.knobs.open_placement("LEFT_MENU", int(self.users[who]), post=False)
        response = client.post(str(call["url"]), data=dict(call["form"]))
        assert response.status_code == 200, response.text

    def rest(self, method: str, body: dict[str, Any]) -> Any:
        """An admin's call on the sandbox (test set-up and inspection)."""
        response = httpx.post(f"{self.sb.webhook_url}{method}.json", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["result"]


async def _active_refs(settings: Settings, count: int) -> list[tuple[str, str]]:
    connector = build_onec(settings, retry=OneCRetry(attempts=2, initial_wait=0, max_wait=0, jitter=0))
    found: list[tuple[str, str]] = []
    try:
        async for page in connector.snapshot("Employee"):
            for record in page:
                if not isinstance(record, Employee) or record.current is None:
                    continue
                current = record.current
                if current.department_ref and not current.dismissal_date and len(found) < count:
                    found.append((record.ref, record.person_ref))
    finally:
        await connector.close()
    return found


def build_pages(
    sb: RunningSandbox, onec_sb: OneCSandbox, store: Store, handler_base: str = HANDLER_BASE
) -> Pages:
    """The world; the placement is bound to ``handler_base`` (the TestClient's host, or a served URL)."""
    auth = sb.knobs.install()["auth"]
    bind_placement(sb, auth["access_token"], f"{handler_base}/portal/placement")
    app_info = sb.knobs.app()
    tokens = OAuthTokens(
        MemoryVault(
            TokenPair(auth["access_token"], auth["refresh_token"], auth["member_id"], auth["domain"])
        ),
        oauth_server=sb.base_url,
        client_id=app_info["client_id"],
        client_secret=app_info["client_secret"],
    )
    gateway = Bitrix24Gateway(
        sb.base_url + "/rest/",
        budget=MemoryBudget(1000, 1000),
        tokens=tokens,
        retry=RetryPolicy(attempts=2, initial_seconds=0, max_seconds=0),
        timeout_seconds=10,
    )
    onec_settings = Settings(
        onec=OneCSettings(endpoint=onec_sb.endpoint, username=onec_sb.user, password=onec_sb.password)
    )
    found = dict(zip(NAMES, asyncio.run(_active_refs(onec_settings, 4)), strict=True))
    refs = {k: ref for k, (ref, _person) in found.items()}
    persons = {k: person for k, (_ref, person) in found.items()}
    onec = build_onec(onec_settings, retry=OneCRetry(attempts=2, initial_wait=0, max_wait=0, jitter=0))

    def add(key: str, first: str, last: str) -> B24UserId:
        email = f"{first}.{last}.{key}@example.test".lower()
        return B24UserId(sb.knobs.add_user({"NAME": first, "LAST_NAME": last, "EMAIL": email}))

    users = {
        "approver_a": add("aa", "Anna", "Klientova"),
        "approver_b": add("ab", "Boris", "Yuzhny"),
        "provider": add("pm", "Maria", "Postavshchikova"),
    }
    for key, name in NAMES.items():
        users[key] = add(key, *reversed(name.split()))
    users["employee"] = users["A0"]
    clock = [NOW]
    data = MemoryData()
    service = PortalService(data, lambda: clock[0])
    for ref, name in (("site-A", "Северный склад"), ("site-B", "Южный терминал")):
        data.site_rows[ref] = Site(ref, name, "ООО Клиент", SiteSettings(ref, "org-1", "half_month"))
    data.principals.update(
        {
            users["approver_a"]: Principal(
                users["approver_a"],
                "client_manager",
                "Анна Клиентова",
                {"site-A": frozenset({"timesheet_approver"})},
            ),
            users["approver_b"]: Principal(
                users["approver_b"],
                "client_manager",
                "Борис Южный",
                {"site-B": frozenset({"timesheet_approver"})},
            ),
            users["provider"]: Principal(users["provider"], "provider_manager", "Мария Поставщикова"),
            users["A0"]: Principal(
                users["A0"], "employee", NAMES["A0"], employee_ref=refs["A0"], employee_site="site-A"
            ),
        }
    )
    for key, name in NAMES.items():
        site = "site-A" if key.startswith("A") else "site-B"
        data.members.append(TeamMember(refs[key], site, name, "Кладовщик", users[key]))
        plan = [ScheduleDay(d, Decimal(8) if d.weekday() < 5 else Decimal(0)) for d in MARCH.days()]
        days = prefill(MARCH, plan).days
        sheet = Timesheet(
            f"sheet-{key}", refs[key], site, "org-1", MARCH, days, employee_name=name,
            foreman=f"Бригадир {key[0]}", department="Склад",
        )  # fmt: skip
        service.open_sheet(sheet)
    data.cards[refs["A0"]] = EmployeeCard(
        refs["A0"], NAMES["A0"], "Кладовщик", "ООО «Аутсорс»", "site-A", "Северный склад", "0042",
        date(2025, 2, 3), Decimal(14), persons["A0"], "org-1",
    )  # fmt: skip
    data.request_rows[refs["A0"]] = [RequestRow("req-1", "leave", "awaiting:client", NOW)]
    data.invitation_rows.append(InvitationRow("Анна Клиентова", "email", "sent", NOW))
    groups = {}
    for site in ("site-A", "site-B"):
        answer = httpx.post(
            f"{sb.webhook_url}sonet_group.create.json", json={"NAME": data.site_rows[site].name}, timeout=10
        )
        groups[site] = int(answer.json()["result"])
    data.site_groups.update(groups)
    verifier = PlacementVerifier(
        user_gateway(sb.base_url, MemoryBudget(100, 100)), member_id=sb.sandbox.portal.member_id
    )
    app = demo_app(data, service, verifier, session_secret=SECRET, cookie_secure=False)
    app.state.portal_ports = PortalPorts(store.sessions, onec, gateway)
    return Pages(sb, users, refs, persons, groups, data, service, app, store, gateway, onec, clock)


def _assign(ack: str, last: Transition | None) -> Transition:
    return record(ack, last, AckEvent("assign", "bridge", data={"task_id": 7}), NOW)


def publish_regulations(pages: Pages) -> None:
    """Two local acts as ``regulations publish`` leaves them (docs/regulations.md): one assigned to A0,
    one to B0."""
    with pages.store.sessions.begin() as session:
        repo = Regulations(session)
        for doc, title, who in (("doc-a", "Правила охраны труда", "A0"), ("doc-b", "Пропускной режим", "B0")):
            repo.add_document(
                RegulationDocument(
                    document_id=doc, org_ref="org-1", title=title, file_name=f"{doc}.pdf", group_id=1,
                    file_id=1, deadline=date(2026, 3, 30), published_at=NOW,
                )
            )  # fmt: skip
            repo.append(ack_id(doc, pages.persons[who]), _assign, NOW, person_ref=pages.persons[who])
