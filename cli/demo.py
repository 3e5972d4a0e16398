"""`extranet-bridge demo`: the whole mirror on the local sandboxes, step by step, with a summary.

Both sandboxes run in this process on loopback ports and are reached over real HTTP through the same
connectors as production. The state store is a fresh SQLite file under var/demo/.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.options import EMPLOYEES_HELP, LimitsPlan

if TYPE_CHECKING:
    from config.wiring import Bridge

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
    sites = [d["ref"] for d in knobs.pick("Department", n=2)]
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
) -> None:
    """Run the whole mirror on local Bitrix24 and 1C sandboxes with a generated company, then summarise."""
    import asyncio

    from rich.panel import Panel
    from rich.table import Table

    from cli.common import console
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
        finally:
            store.dispose()
        users = _users(b24)
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


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
