"""The demo's HR-request chapter: the bridge installed as the portal's application, the process catalog set
up in Bitrix24, and a leave request, a certificate request and a sick-leave notice carried from the
employee's form to 1C and back.

Everything goes the production way: the application is installed through the bridge's install handler,
`install` builds the lists, REST activities and templates, the people act through their own Bitrix24
credentials (the employee adds the list element, the approvers complete their workflow tasks), the
sandbox calls the bridge's REST activities over HTTP, and the bridge's own job functions (call-outs, the
Bitrix24 sender, the 1C outbox, 1C's answers) move the requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.settings import Settings
    from config.wiring import Bridge, Store

SCOPES = ["user", "lists", "bizproc", "im", "disk", "calendar"]


@dataclass
class Person:
    uid: int
    hook: str


def _rest(http: Any, who: Person, method: str, params: dict[str, Any]) -> Any:
    answer = http.post(f"{who.hook}{method}.json", json=params)
    answer.raise_for_status()
    return answer.json()["result"]


def app_settings(settings: Settings, b24: Any, url: str) -> Settings:
    """The bridge as the portal's local application (OAuth), on the demo's store and 1C."""
    from config.settings import Settings

    app = b24.knobs.app()
    return Settings(
        database=settings.database.model_dump(),
        bitrix24={
            "portal_url": b24.base_url,
            "rate": settings.bitrix24.rate,
            "burst": settings.bitrix24.burst,
            "app": {
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
                "oauth_server": b24.base_url,
            },
        },
        onec=settings.onec.model_dump(),
        server={"public_url": url},
        logging=settings.logging.model_dump(),
    )


class Story:
    """The people and the jobs of one demo run."""

    def __init__(self, bridge: Bridge, b24: Any, onec: Any, http: Any) -> None:
        from processes import callouts
        from processes.catalog import default_catalog
        from processes.leave_balance import leave_balance
        from webhooks.handlers import ProcessDirectory

        self.bridge, self.b24, self.onec, self.http = bridge, b24, onec, http
        self.catalog = default_catalog()
        self.context = callouts.Context(bridge.b24, self.catalog, ProcessDirectory(), leave_balance)
        self.admin = Person(1, b24.webhook_url)

    async def pump(self, rounds: int = 12) -> None:
        """Run what the service's `processes` and `request_answers` jobs run until nothing moves."""
        from processes.b24_sender import send_pending
        from processes.onec_answers import poll_submitted
        from processes.outbox_worker import deliver_pending
        from webhooks.handlers import dispatch_activities

        sessions = self.bridge.store.sessions
        for _ in range(rounds):
            self.b24.knobs.flush()
            moved = (await dispatch_activities(sessions, self.context)).done
            moved += sum((await send_pending(sessions, self.bridge.b24, self.catalog)).sent.values())
            delivered = await deliver_pending(sessions, self.bridge.onec, self.catalog, files=self.bridge.b24)
            moved += len(delivered.sent) + len(delivered.refused)
            moved += len(await poll_submitted(sessions, self.bridge.onec, self.catalog))
            if not moved:
                self.b24.knobs.flush()
                if not (await dispatch_activities(sessions, self.context)).done:
                    return

    def file(self, employee: Person, kind: str, values: dict[str, Any]) -> int:
        """The employee adds an element to the process's list; its workflow starts by itself."""
        iblock = {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_CODE": f"eb_{kind}"}
        fields = _rest(self.http, self.admin, "lists.field.get", iblock)
        by_code = {str(f.get("CODE") or ""): f for f in fields.values()}
        element: dict[str, Any] = {"NAME": self.catalog.entry(kind).title}
        for code, value in values.items():
            described = by_code[code.upper()]
            display = described.get("DISPLAY_VALUES_FORM") or {}
            label = self.catalog.entry(kind).field(code).options.get(value, value) if display else value
            element[described["FIELD_ID"]] = next((k for k, v in display.items() if v == label), value)
        code = f"demo-{kind}"
        return int(
            _rest(
                self.http, employee, "lists.element.add", {**iblock, "ELEMENT_CODE": code, "FIELDS": element}
            )
        )

    def decide(self, who: Person) -> int:
        """Approve every open workflow task of ``who``; returns how many."""
        params = {"SELECT": ["ID"], "FILTER": {"USER_STATUS": 0}}
        tasks = _rest(self.http, who, "bizproc.task.list", params) or []
        for task in tasks:
            _rest(
                self.http, who, "bizproc.task.complete", {"TASK_ID": task["ID"], "STATUS": 1, "COMMENT": "OK"}
            )
        return len(tasks)

    async def approve(self, *approvers: Person) -> None:
        await self.pump()
        for _ in range(4):
            if not sum(self.decide(who) for who in approvers):
                return
            await self.pump()

    def request(self, element: int) -> tuple[str, list[str], dict[str, Any]]:
        """The request filed as list element ``element``: its id, the states it went through, its data."""
        from sqlalchemy import select

        from store.models import ProcessInstance
        from store.process_repo import ProcessRepository

        with self.bridge.store.sessions() as session:
            found = session.scalar(select(ProcessInstance).where(ProcessInstance.b24_element_id == element))
            if found is None:
                return "", [], {}
            path = [t.to_state for t in ProcessRepository(session).history(found.request_id)]
            return (
                found.request_id,
                [s for n, s in enumerate(path) if n == 0 or s != path[n - 1]],
                dict(found.data),
            )


def _people(store: Store, b24: Any, sites: list[str]) -> tuple[int, int, str] | None:
    """A mirrored employee of one of the client manager's sites, that manager's user and the site."""
    from sqlalchemy import select

    from store.models import ClientManager, IdentityLink, SourceRecord

    with store.sessions() as session:
        managers = {
            m.site_ref: int(m.b24_user_id)
            for m in session.scalars(select(ClientManager).where(ClientManager.site_ref.in_(sites)))
            if m.b24_user_id
        }
        query = select(IdentityLink.source_ref, IdentityLink.b24_id).where(IdentityLink.kind == "person")
        linked = {str(ref): int(uid) for ref, uid in session.execute(query) if uid}
        for row in session.scalars(select(SourceRecord).where(SourceRecord.entity == "Employee")):
            current = (row.payload.get("current") or {}) if isinstance(row.payload, dict) else {}
            site = str(current.get("department_ref") or "")
            person = linked.get(str(row.parent_ref))
            if site in managers and person and not current.get("dismissal_date"):
                return person, managers[site], site
    return None


def _provider_manager(store: Store, b24: Any, site: str) -> int:
    """An intranet user of the provider named as the site's provider manager (portal_sites.settings)."""
    from portal.models import PortalSite

    uid = int(
        b24.knobs.add_user(
            {"NAME": "Павел", "LAST_NAME": "Провайдеров", "EMAIL": "hr@bridge.example", "UF_DEPARTMENT": [1]}
        )
    )
    with store.sessions.begin() as session:
        row = session.get(PortalSite, site)
        if row is None:
            row = PortalSite(
                site_ref=site, name=site, client="Клиент", org_ref="", period_kind="month", settings={}
            )
            session.add(row)
        row.settings = {**(row.settings or {}), "provider_managers": [str(uid)]}
    return uid


async def process_story(
    settings: Settings, store: Store, b24: Any, onec: Any, sites: list[str]
) -> dict[str, Any]:
    import httpx

    from cli.common import console
    from config.wiring import open_bridge
    from processes import install
    from processes import portal_setup as setup
    from processes.catalog import default_catalog
    from sandbox.bitrix24.params import encode_form
    from sandbox.server import free_port, serve_in_thread
    from webhooks.app import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    served = app_settings(settings, b24, url)
    summary: dict[str, Any] = {}
    with serve_in_thread(create_app(served, store), port=port), httpx.Client(timeout=60) as http:
        auth = b24.knobs.install(f"{url}/bitrix24/install")["auth"]
        installed = http.post(
            f"{url}/bitrix24/install",
            content=encode_form({"event": "ONAPPINSTALL", "auth": auth}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        installed.raise_for_status()
        want = install.desired(default_catalog(), b24.knobs.app()["client_id"], url)
        gateway = setup.app_gateway(served, store)
        try:
            # Placements are left to the portal's chapter, which binds them to the service it runs.
            def plan(have: install.PortalState) -> list[install.Operation]:
                ops = install.plan_install(want, have, setup.FIELD_TYPES)
                return [op for op in ops if not isinstance(op, install.BindPlacement)]

            outcome = await setup.apply(gateway, plan)
        finally:
            await gateway.close()
        console.print(
            f"install: {len(outcome.applied)} change(s) to the portal (lists, activities, templates)"
        )
        found = _people(store, b24, sites)
        if found is None:
            console.print("no mirrored employee on the client manager's sites: skipped")
            return summary
        employee_uid, client_uid, site = found
        provider_uid = _provider_manager(store, b24, site)
        for uid in (employee_uid, client_uid):
            b24.knobs.accept(uid)  # they followed their invitations
        employee, client, provider = (
            Person(uid, b24.knobs.webhook(user_id=uid, scopes=SCOPES))
            for uid in (employee_uid, client_uid, provider_uid)
        )
        bridge = open_bridge(served, store)
        try:
            story = Story(bridge, b24, onec, http)
            start = date.today() + timedelta(days=30)
            leave = {
                "leave_kind": "annual",
                "date_from": start.isoformat(),
                "date_to": (start + timedelta(days=6)).isoformat(),
            }
            for kind, values in (
                ("leave", leave),
                ("certificate", {"certificate_kind": "employment", "purpose": "В банк"}),
                (
                    "sick_notice",
                    {
                        "date_from": date.today().isoformat(),
                        "date_to": (date.today() + timedelta(days=4)).isoformat(),
                    },
                ),
            ):
                element = story.file(employee, kind, values)
                await story.approve(client, provider)
                request_id, _path, _data = story.request(element)
                if request_id:
                    onec.knobs.decide(request_id)  # HR posts the document in 1C
                await story.pump()
                request_id, path, data = story.request(element)
                in_1c = [r for r in onec.knobs.requests() if r.get("request_id") == request_id]
                console.print(f"{kind}: {' → '.join(path) or 'not received'}; 1C documents: {len(in_1c)}")
                if data.get("drive_file_url"):
                    console.print(
                        f"    the certificate's PDF in the employee's Drive: {data['drive_file_url']}"
                    )
                summary[kind] = {
                    "path": path,
                    "documents_in_1c": len(in_1c),
                    "drive_file": data.get("drive_file_url"),
                }
            calendar = _rest(
                http, story.admin, "calendar.event.get", {"type": "user", "ownerId": employee_uid}
            )
            told = b24.knobs.notifications(employee_uid)
            console.print(
                f"the employee got {len(told)} notification(s); calendar events: {len(calendar or [])}"
            )
            summary["notifications"] = len(told)
            summary["calendar_events"] = len(calendar or [])
        finally:
            await bridge.close()
    return summary
