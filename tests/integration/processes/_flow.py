"""Both sandboxes and the served bridge on loopback, set up as an operator would: the application installed
through its install handler, ``install`` (lists, REST activities, templates) run against the portal, and
one mirrored employee of a client site with its approvers. ``World.pump`` runs what the service's jobs run
(call-outs, the Bitrix24 sender, the 1C worker, 1C's answers) until nothing moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from config.settings import Settings
from config.wiring import Store
from connectors.bitrix24.gateway import Bitrix24Gateway
from connectors.onec import build_onec
from connectors.onec.connector import OneCConnector
from connectors.onec.port import DepartmentRef, Employee, EmploymentRef, OrgRef, PersonRef, Placement
from portal.models import PortalSite
from processes import callouts, install
from processes import portal_setup as setup
from processes.b24_sender import send_pending
from processes.catalog import default_catalog
from processes.leave_balance import leave_balance
from processes.onec_answers import poll_submitted
from processes.outbox_worker import DeliveryPolicy, deliver_pending
from sandbox.bitrix24.params import encode_form
from sandbox.bitrix24.testing import RunningSandbox as B24Sandbox
from sandbox.bitrix24.testing import run_sandbox
from sandbox.onec.testing import RunningSandbox as OneCSandbox
from sandbox.onec.testing import onec_sandbox
from sandbox.server import free_port, serve_in_thread
from store.db import utcnow
from store.models import IdentityLink, SourceRecord
from sync.source import to_json
from tests.integration.processes._outbox_helpers import ONCE
from webhooks.app import create_app
from webhooks.handlers import ProcessDirectory, dispatch_activities

CATALOG = default_catalog()
TODAY = date(2026, 3, 2)
SCOPES = ["user", "lists", "bizproc", "im", "disk", "calendar"]
QUICK = DeliveryPolicy(initial_backoff=timedelta(0), max_attempts=50)


@dataclass
class Person:
    uid: int
    hook: str


@dataclass
class World:
    b24: B24Sandbox
    onec_sb: OneCSandbox
    store: Store
    bridge_url: str
    gateway: Bitrix24Gateway
    onec: OneCConnector
    employee: Person
    client: Person
    manager: Person
    http: httpx.Client
    person_ref: str = ""
    settings: Settings | None = None
    log: list[str] = field(default_factory=list)

    @property
    def context(self) -> callouts.Context:
        return callouts.Context(self.gateway, CATALOG, ProcessDirectory(), leave_balance)

    def rest(self, who: Person, method: str, params: dict[str, Any]) -> Any:
        answer = self.http.post(f"{who.hook}{method}.json", json=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    def flush(self) -> None:
        self.b24.knobs._post("/_sandbox/events/flush")

    async def pump(self, rounds: int = 12, *, onec: bool = True) -> None:
        """Deliver and handle until a round changes nothing."""
        for _ in range(rounds):
            self.flush()
            moved = (await dispatch_activities(self.store.sessions, self.context)).done
            sent = await send_pending(self.store.sessions, self.gateway, CATALOG, policy=QUICK)
            moved += sum(sent.sent.values())
            if onec:
                delivered = await deliver_pending(
                    self.store.sessions, self.onec, CATALOG, policy=QUICK, files=self.gateway
                )
                moved += len(delivered.sent) + len(delivered.refused)
                moved += len(await poll_submitted(self.store.sessions, self.onec, CATALOG))
            if not moved:
                self.flush()
                if not (await dispatch_activities(self.store.sessions, self.context)).done:
                    return

    # -- the employee's and approvers' side, through their own webhooks --------------------------------
    def file(self, kind: str, values: dict[str, Any], name: str = "Заявка", who: Person | None = None) -> int:
        """The employee adds an element to the process's list (the template starts by itself)."""
        iblock = f"eb_{kind}"
        fields = self.rest(
            self.admin,
            "lists.field.get",
            {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_CODE": iblock},
        )
        by_code = {str(f.get("CODE") or ""): f for f in fields.values()}
        element: dict[str, Any] = {"NAME": name}
        for code, value in values.items():
            described = by_code[code.upper()]
            display = described.get("DISPLAY_VALUES_FORM") or {}
            label = CATALOG.entry(kind).field(code).options.get(value, value) if display else value
            element[described["FIELD_ID"]] = next((k for k, v in display.items() if v == label), value)
        element_code = f"{kind}-{len(self.log)}"
        self.log.append(element_code)
        return int(
            self.rest(
                who or self.employee,
                "lists.element.add",
                {
                    "IBLOCK_TYPE_ID": "bitrix_processes",
                    "IBLOCK_CODE": iblock,
                    "ELEMENT_CODE": element_code,
                    "FIELDS": element,
                },
            )
        )

    @property
    def admin(self) -> Person:
        """The portal's administrator (user 1) through the sandbox's built-in webhook."""
        return Person(1, self.b24.webhook_url)

    def tasks(self, who: Person) -> list[dict[str, Any]]:
        return list(
            self.rest(
                who,
                "bizproc.task.list",
                {"SELECT": ["ID", "NAME", "WORKFLOW_ID", "USER_STATUS"], "FILTER": {"USER_STATUS": 0}},
            )
            or []
        )

    def decide(self, who: Person, status: int = 1, comment: str = "") -> int:
        """Complete every open task of ``who``; returns how many."""
        tasks = self.tasks(who)
        for task in tasks:
            self.rest(
                who, "bizproc.task.complete", {"TASK_ID": task["ID"], "STATUS": status, "COMMENT": comment}
            )
        return len(tasks)

    def notifications(self, uid: int) -> list[str]:
        rows = self.b24.knobs._get("/_sandbox/im/notifications", user_id=uid)["notifications"]
        return [str(r["message"]) for r in rows]

    def calendar(self, uid: int) -> list[dict[str, Any]]:
        params = {"type": "user", "ownerId": uid, "from": "2026-01-01", "to": "2027-12-31"}
        return list(self.rest(self.admin, "calendar.event.get", params))


def new_user(b24: B24Sandbox, name: str) -> Person:
    uid = b24.knobs.add_user(
        {"NAME": name, "LAST_NAME": "Test", "EMAIL": f"{name.lower()}@example.com", "UF_DEPARTMENT": [1]}
    )
    return Person(uid, b24.knobs.webhook(user_id=uid, scopes=SCOPES))


def _seed(store: Store, employee: dict[str, Any], b24_uid: int, client: int, manager: int) -> None:
    """What the mirror would have written: the person's link, the employment, and the site's approvers."""
    current = employee["current"]
    record = Employee(
        ref=EmploymentRef(employee["ref"]),
        personnel_no=employee["personnel_no"],
        person_ref=PersonRef(employee["person_ref"]),
        head_org_ref=OrgRef(employee["head_org_ref"]),
        main_employee_ref=None,
        archived=False,
        current=Placement(
            OrgRef(current["org_ref"]),
            DepartmentRef(current["dept_ref"]),
            None,
            "Main",
            date.fromisoformat(current["hire_date"]),
            None,
        ),
    )
    now = utcnow()
    with store.sessions.begin() as session:
        session.add(
            IdentityLink(
                kind="person", source_ref=employee["person_ref"], b24_id=b24_uid, state={}, updated_at=now
            )
        )
        session.add(
            SourceRecord(
                entity="Employee",
                ref=employee["ref"],
                parent_ref=employee["person_ref"],
                payload=to_json(record),
                content_hash="x",
                updated_at=now,
            )
        )
        session.add(
            PortalSite(
                site_ref=current["dept_ref"],
                name="Объект",
                client="Клиент",
                org_ref=current["org_ref"],
                settings={"client_approvers": [str(client)], "provider_managers": [str(manager)]},
            )
        )


@contextmanager
def world(db_url: str, store: Store) -> Iterator[World]:
    port = free_port()
    bridge_url = f"http://127.0.0.1:{port}"
    with (
        run_sandbox(rate=1000, burst=1000) as b24,
        onec_sandbox(seed=5, employees=20, today=TODAY, frozen_clock=True) as onec_sb,
        httpx.Client(timeout=30) as http,
    ):
        app = b24.knobs.app()
        settings = Settings(
            database={"url": db_url},
            bitrix24={
                "portal_url": b24.base_url,
                "app": {
                    "client_id": app["client_id"],
                    "client_secret": app["client_secret"],
                    "oauth_server": b24.base_url,
                },
            },
            onec={"endpoint": onec_sb.endpoint, "username": onec_sb.user, "password": onec_sb.password},
            server={"public_url": bridge_url},
        )
        with serve_in_thread(create_app(settings, store), port=port):
            auth = b24.knobs.install(f"{bridge_url}/bitrix24/install")["auth"]
            installed = http.post(
                f"{bridge_url}/bitrix24/install",
                content=encode_form({"event": "ONAPPINSTALL", "auth": auth}),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert installed.status_code == 200, installed.text
            gateway = setup.app_gateway(settings, store)
            onec = build_onec(settings, retry=ONCE)
            employee, client, manager = (
                new_user(b24, "Employee"),
                new_user(b24, "Client"),
                new_user(b24, "Manager"),
            )
            picked = onec_sb.knobs.pick("Employee", 1, active=True)[0]
            _seed(store, picked, employee.uid, client.uid, manager.uid)
            w = World(
                b24,
                onec_sb,
                store,
                bridge_url,
                gateway,
                onec,
                employee,
                client,
                manager,
                http,
                picked["person_ref"],
                settings,
            )
            yield w


async def set_up_portal(w: World) -> None:
    want = install.desired(CATALOG, w.b24.knobs.app()["client_id"], w.bridge_url)
    await setup.apply(w.gateway, lambda have: install.plan_install(want, have, setup.FIELD_TYPES))


async def close(w: World) -> None:
    await w.gateway.close()
    await w.onec.close()
