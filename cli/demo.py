"""`extranet-bridge demo`: the whole mirror on the local sandboxes, step by step, with a summary.

Both sandboxes run in this process on loopback ports and are reached over real HTTP through the same
connectors as production. The state store is a fresh SQLite file under var/demo/.
"""

from __future__ import annotations

import asyncio
import html
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.options import EMPLOYEES_HELP, LimitsPlan
from core.clock import utcnow

if TYPE_CHECKING:
    from config.settings import Settings
    from config.wiring import Bridge, Store

DEMO_DIR = Path("var/demo")


def _users(b24: Any) -> list[dict[str, Any]]:
    """Every user of the sandbox portal (its knob lists 1,000 unless asked for more)."""
    return list(b24.knobs.users(limit=10_000_000))


def _step(title: str) -> None:
    from cli.common import console

    console.rule(f"[bold]{title}")


def _ops(report: Any) -> str:
    counts = report.plan.count()
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items())) or "nothing to do"


async def _story(bridge: Bridge, b24: Any, onec: Any) -> dict[str, Any]:
    import httpx

    from cli.common import console
    from sync import managers, run
    from sync.reconcile import drift_counts

    ctx = bridge.sync_context()
    today = await run.business_day(ctx)  # the 1C server's date, in its time zone
    summary: dict[str, Any] = {}

    _step("1. First mirror: 1C snapshot → extranet groups and users")
    first = await run.full(ctx)
    quarantine: dict[str, int] = {}
    for item in first.plan.quarantined:
        quarantine[item.code] = quarantine.get(item.code, 0) + 1
    console.print(f"planned: {_ops(first)}")
    console.print(f"quarantined (the generated company has bad contacts on purpose): {quarantine}")
    summary["first_mirror"] = first.plan.count()
    summary["quarantine"] = quarantine

    _step("2. HR changes in 1C: a hire, a transfer, a dismissal — then the same person rehired")
    knobs = onec.knobs
    hired = knobs.hire(
        lastName="Соколова", firstName="Дарья", gender="Female", emails=["d.sokolova@example.org"]
    )
    everyone = knobs.pick("Employee", n=1_000_000, active=True)
    jobs: dict[str, int] = {}
    for employee in everyone:
        jobs[employee["person_ref"]] = jobs.get(employee["person_ref"], 0) + 1
    mirrored = {u["fields"]["XML_ID"]: u for u in _users(b24) if u["fields"].get("XML_ID")}
    single = [e for e in everyone if jobs[e["person_ref"]] == 1 and e["person_ref"] in mirrored]
    moved, leaving = single[0], single[1]
    other_site = next(
        d["ref"] for d in knobs.pick("Department", n=500) if d["ref"] != moved["current"]["dept_ref"]
    )
    knobs.transfer(moved["ref"], deptRef=other_site)
    knobs.dismiss(leaving["ref"], date=(today - timedelta(days=1)).isoformat())
    for report in await run.incremental(ctx):
        console.print(f"change-feed message {report.message_no}: {_ops(report)}")
    gone = next(u for u in _users(b24) if u["fields"].get("XML_ID") == leaving["person_ref"])
    console.print(f"dismissed employee's account #{gone['id']} active: {gone['fields']['ACTIVE']}")
    knobs.rehire(leaving["ref"])
    for report in await run.incremental(ctx):
        console.print(f"change-feed message {report.message_no}: {_ops(report)}")
    back = next(u for u in _users(b24) if u["fields"].get("XML_ID") == leaving["person_ref"])
    console.print(f"after the rehire the same account #{back['id']} is active: {back['fields']['ACTIVE']}")
    summary["rehire_same_user"] = (
        back["id"] == gone["id"] and bool(back["fields"]["ACTIVE"]) and not gone["fields"]["ACTIVE"]
    )
    summary["hired_person"] = hired["personRef"]

    _step("3. A client manager for two sites")
    staffed = [e["current"]["dept_ref"] for e in everyone if e["current"].get("dept_ref")]
    sites = sorted(set(staffed), key=lambda s: -staffed.count(s))[:2]  # the two largest sites
    with bridge.store.sessions.begin() as session:
        managers.add(session, "manager@client.example", sites, "timesheet_approver", "Ольга Кузнецова")
    counts = await managers.apply(bridge.b24, bridge.store.sessions)
    console.print(f"invited {counts['invited']}, moderator of {counts['moderator_of']} site group(s)")

    _step("4. Drift: someone deactivates an employee by hand in Bitrix24; reconcile repairs it")
    victim = next(u for u in _users(b24) if u["fields"].get("XML_ID") and u["fields"].get("ACTIVE"))
    httpx.post(f"{b24.webhook_url}user.update.json", json={"ID": victim["id"], "ACTIVE": "N"}, timeout=30)
    seen = await run.reconcile(ctx, dry_run=True)
    console.print(f"drift found: {drift_counts(seen.drift)}")
    repaired = await run.reconcile(ctx)
    console.print(f"repair: {_ops(repaired)}")
    summary["sites"] = sites
    summary["drift"] = drift_counts(seen.drift)
    summary["victim_active_again"] = bool(b24.knobs.user(victim["id"])["fields"]["ACTIVE"])

    _step("5. Nothing changed: a new run sends no writes")
    quiet = await run.incremental(ctx)
    console.print(f"planned: {', '.join(_ops(r) for r in quiet)}")
    return summary


def demo(
    employees: Annotated[int, typer.Option(min=1, max=200_000, help=EMPLOYEES_HELP)] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the generated company.")] = 42,
    limits: Annotated[
        LimitsPlan, typer.Option("--plan", help="Bitrix24 plan limits: standard (2/s) or enterprise (5/s).")
    ] = LimitsPlan.enterprise,
    serve: Annotated[
        bool, typer.Option(help="Keep the sandboxes and the bridge running for a browser (on a terminal).")
    ] = True,
) -> None:
    """Run the whole mirror on local Bitrix24 and 1C sandboxes with a generated company, then summarise."""
    import asyncio

    from rich.panel import Panel

    from cli.common import console
    from cli.demo_processes import process_story
    from config.logging import configure_logging
    from config.settings import Settings
    from config.wiring import open_bridge, open_store
    from sandbox.bitrix24.testing import run_sandbox
    from sandbox.onec.testing import onec_sandbox

    plan = limits.value
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    configure_logging("ERROR")
    with run_sandbox(plan=plan) as b24, onec_sandbox(seed=seed, employees=employees) as onec:
        settings = Settings(
            database={"url": f"sqlite:///{DEMO_DIR / 'state.db'}"},
            bitrix24={
                "webhook_url": b24.webhook_url,
                "rate": 5 if plan == "enterprise" else 2,
                "burst": 250 if plan == "enterprise" else 50,
            },
            onec={"endpoint": onec.endpoint, "username": onec.user, "password": onec.password},
            logging={"level": "WARNING"},
        )
        console.print(
            Panel(
                f"Bitrix24 sandbox {b24.base_url} ({plan} limits)\n1C sandbox {onec.endpoint}\n"
                f"{employees} employees, seed {seed}",
                title="Extranet Bridge demo",
            )
        )
        store = open_store(settings)

        async def main() -> dict[str, Any]:
            bridge = open_bridge(settings, store)
            try:
                return await _story(bridge, b24, onec)
            finally:
                await bridge.close()

        try:
            summary = asyncio.run(main())
            users = _users(b24)
            _summary_table(users, summary, b24)
            _step("6. HR requests: from the employee's form through the approvals to 1C and back")
            summary["processes"] = asyncio.run(process_story(settings, store, b24, onec, summary["sites"]))
            with portal_served(settings, store, b24, summary["sites"]) as pages:
                _step("7. The client portal inside Bitrix24, served by the bridge")
                for who, (opener, page) in pages.items():
                    console.print(f"{who}: {opener}\n    opens {page}")
                if serve and sys.stdin.isatty():
                    console.print("The sandboxes and the bridge keep running: press Enter to stop.")
                    input()
        finally:
            store.dispose()


def _summary_table(users: list[dict[str, Any]], summary: dict[str, Any], b24: Any) -> None:
    from rich.table import Table

    from cli.common import console

    table = Table(title="Summary")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("Bitrix24 users mirrored", str(sum(1 for u in users if u["fields"].get("XML_ID"))))
    table.add_row(
        "  of them active",
        str(sum(1 for u in users if u["fields"].get("XML_ID") and u["fields"].get("ACTIVE"))),
    )
    table.add_row("extranet groups", str(len(b24.knobs.groups())))
    table.add_row("invitations sent by Bitrix24", str(len(b24.knobs.invitations())))
    table.add_row("persons in quarantine", str(sum(summary["quarantine"].values())))
    table.add_row("rehire reused the same account", "yes" if summary["rehire_same_user"] else "NO")
    table.add_row("drift repaired", "yes" if summary["victim_active_again"] else "NO")
    table.add_row("Bitrix24 requests", str(len(b24.knobs.log())))
    console.print(table)


@contextmanager
def portal_served(
    settings: Settings, store: Store, b24: Any, sites: list[str]
) -> Iterator[dict[str, tuple[str, str]]]:
    """The bridge's service with the portal on loopback: the placement bound, this month's timesheets
    pre-filled, some submitted; yields, per person, a local page that opens the portal as Bitrix24 does
    (an auto-submitted placement call with a fresh token of that person) and the portal page it opens."""
    import httpx

    from config.settings import PortalSettings
    from sandbox.server import serve_in_thread
    from webhooks.app import create_app

    provider = int(
        b24.knobs.add_user({"NAME": "Мария", "LAST_NAME": "Поставщикова", "EMAIL": "provider@bridge.example"})
    )
    portal = PortalSettings(
        session_secret=secrets.token_urlsafe(32),
        cookie_secure=False,
        provider_managers=[provider],
        sites=[
            {
                "site": site,
                "client": f"ООО «Клиент {n + 1}»",
                "period": "month",
                "rates": [{"rate": "520.00"}],
            }
            for n, site in enumerate(sites)
        ],
    )
    served = settings.model_copy(update={"portal": portal})
    with serve_in_thread(create_app(served, store)) as url:
        token = b24.knobs.install()["auth"]["access_token"]
        bind = {
            "PLACEMENT": "LEFT_MENU",
            "HANDLER": f"{url}/portal/placement",
            "TITLE": "Кабинет",
            "auth": token,
        }
        httpx.post(f"{b24.base_url}/rest/placement.bind.json", json=bind, timeout=30).raise_for_status()
        people = asyncio.run(_fill_timesheets(served, store, sites[0]))
        pages = {}
        for who, user in (("client manager", people["client"]), ("employee", people["employee"])):
            call = b24.knobs.open_placement("LEFT_MENU", user, post=False)
            opener = DEMO_DIR / f"portal-{who.replace(' ', '-')}.html"
            opener.write_text(_auto_post(call["url"], call["form"]), encoding="utf-8")
            probe = b24.knobs.open_placement("LEFT_MENU", user, post=False)  # its own fresh token
            with httpx.Client(timeout=30) as browser:
                shown = browser.post(probe["url"], data=probe["form"], follow_redirects=True)
            expected = "Мои табели" if who == "employee" else "Ждут решения"
            works = shown.status_code == 200 and expected in shown.text
            state = "works" if works else f"HTTP {shown.status_code}"
            pages[f"as the {who} (Bitrix24 user {user}, {state})"] = (
                opener.resolve().as_uri(),
                f"{url}/portal/",
            )
        yield pages


async def _fill_timesheets(settings: Settings, store: Store, site: str) -> dict[str, int]:
    """Pre-fill the site's sheets as the job does; every employee but one submits theirs."""
    from sqlalchemy import select

    from config.wiring import open_bridge
    from portal.service import PortalService
    from portal.store import SqlPortalData
    from store.models import ClientManager
    from store.uow import UnitOfWork
    from sync import run
    from webhooks.timesheet_jobs import prefill_sites

    bridge = open_bridge(settings, store)
    try:
        today = await run.business_day(bridge.sync_context())
        await prefill_sites(store.sessions, bridge.onec, bridge.b24, settings.portal, today)
    finally:
        await bridge.close()
    with UnitOfWork(store.sessions) as uow:
        data = SqlPortalData(uow.session, outbox=uow.outbox)
        service = PortalService(data, utcnow)
        members = [m for m in data.team(site) if m.b24_user_id is not None]
        for member in members[1:]:
            principal = data.principal(member.b24_user_id) if member.b24_user_id else None
            own = [r for r in data.sheets(site) if r.sheet.employee_ref == member.employee_ref]
            if principal is not None and own:
                service.save_days(principal, own[0].sheet.sheet_id, [], submit=True)
        client = uow.session.scalar(
            select(ClientManager.b24_user_id).where(
                ClientManager.site_ref == site, ClientManager.b24_user_id.is_not(None)
            )
        )
    return {"client": int(client or 0), "employee": int(members[0].b24_user_id or 0) if members else 0}


def _auto_post(url: str, form: dict[str, str]) -> str:
    """A page that POSTs the placement call the moment it opens, as Bitrix24 fills its widget frame."""
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in form.items()
    )
    return (
        '<!doctype html><meta charset="utf-8"><title>Extranet Bridge — Битрикс24</title>'
        f'<form id="b24" method="post" action="{html.escape(url)}">{fields}</form>'
        "<script>document.getElementById('b24').submit()</script>"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
