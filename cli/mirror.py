"""Mirror commands: plan, sync, reconcile, status, invite, managers."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import ConfigOption, console, with_bridge, with_store
from config.wiring import Bridge, Store
from sync.model import Plan
from sync.state import has_committed_full_run

ModeOption = Annotated[
    str,
    typer.Option(
        "--mode", help="full (1C snapshot), incremental (change feed), due (dated changes), or auto."
    ),
]
TodayOption = Annotated[str | None, typer.Option("--today", help="Pretend today is this date (YYYY-MM-DD).")]


def _today(value: str | None) -> date | None:
    """The pretended date, or None: the sync then uses today in the 1C server's time zone."""
    return date.fromisoformat(value) if value else None


def _print_plan(plan: Plan, first_rows: int = 5) -> None:
    table = Table(title="Planned operations")
    table.add_column("operation")
    table.add_column("count", justify="right")
    table.add_column("first rows")
    for op, count in sorted(plan.count().items()):
        rows = [o for o in plan.operations if o.op == op][:first_rows]
        table.add_row(op, str(count), ", ".join(f"{o.kind}:{o.ref}" for o in rows))
    console.print(table)
    if plan.quarantined:
        reasons: dict[str, int] = {}
        for item in plan.quarantined:
            reasons[item.code] = reasons.get(item.code, 0) + 1
        quarantine = Table(title="Quarantine")
        quarantine.add_column("reason")
        quarantine.add_column("persons", justify="right")
        for code, count in sorted(reasons.items()):
            quarantine.add_row(code, str(count))
        console.print(quarantine)
    if not plan.operations and not plan.quarantined:
        console.print("nothing to do: Bitrix24 matches 1C")


async def _run(bridge: Bridge, mode: str, today: date | None, dry_run: bool) -> list[Any]:
    from sync import run

    if mode == "auto":
        with bridge.store.sessions() as session:
            mode = "incremental" if has_committed_full_run(session) else "full"
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=dry_run,
    ) as progress:
        task = progress.add_task(f"{mode} sync", total=None)
        ctx = bridge.sync_context(today, on_progress=lambda n: progress.advance(task, n))
        if mode == "full":
            return [await run.full(ctx, dry_run=dry_run)]
        if mode == "incremental":
            return list(await run.incremental(ctx, dry_run=dry_run))
        if mode == "due":
            return [await run.due(ctx, dry_run=dry_run)]
    raise typer.BadParameter(f"unknown mode {mode!r}")


def plan(config: ConfigOption = None, mode: ModeOption = "auto", today: TodayOption = None) -> None:
    """Show what `sync` would do (operation counts, first rows, quarantine); changes nothing."""
    reports = with_bridge(config, lambda bridge: _run(bridge, mode, _today(today), dry_run=True))
    for report in reports:
        _print_plan(report.plan)


def sync(config: ConfigOption = None, mode: ModeOption = "auto", today: TodayOption = None) -> None:
    """Mirror 1C into Bitrix24: finish an interrupted run, then apply what 1C changed."""
    reports = with_bridge(config, lambda bridge: _run(bridge, mode, _today(today), dry_run=False))
    for report in reports:
        console.print_json(json.dumps(report.summary(), default=str))


def reconcile(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report the drift.")] = False,
    today: TodayOption = None,
) -> None:
    """Compare Bitrix24 with the mirrored state, report drift and repair it."""
    from sync import run
    from sync.reconcile import drift_counts

    async def body(bridge: Bridge) -> Any:
        return await run.reconcile(bridge.sync_context(_today(today)), dry_run=dry_run)

    report = with_bridge(config, body)
    table = Table(title="Drift")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for kind, count in sorted(drift_counts(report.drift).items()):
        table.add_row(kind, str(count))
    console.print(table if report.drift else "no drift found")
    _print_plan(report.plan)
    if not dry_run:
        console.print_json(json.dumps(report.summary(), default=str))


def status(config: ConfigOption = None) -> None:
    """Last runs, change-feed position and lag, pending dated changes, quarantine, invitations."""
    from sync.report import status as read_status

    def body(store: Store) -> Any:
        with store.sessions() as session:
            return read_status(session)

    report = with_store(config, body)
    runs = Table(title="Last runs")
    for column in ("id", "mode", "status", "started", "planned", "applied"):
        runs.add_column(column)
    for run in report.runs:
        applied = run["applied"] or {}
        runs.add_row(
            str(run["id"]),
            run["mode"],
            run["status"],
            str(run["started_at"])[:19],
            json.dumps(run["planned"]),
            f"done {applied.get('done', 0)} failed {applied.get('failed', 0)}",
        )
    console.print(runs)
    lag = f"{report.feed_lag_seconds:.0f}s ago" if report.feed_lag_seconds is not None else "never"
    console.print(f"1C change feed: message {report.feed_message_no} committed {lag}")
    console.print(f"dated changes waiting: {report.due_pending} (next on {report.next_due_on or '-'})")
    console.print(
        f"quarantine: {json.dumps(report.quarantine, ensure_ascii=False) if report.quarantine else 'empty'}"
    )
    warnings = json.dumps(report.warnings) if report.warnings else "none"
    console.print(f"data-quality warnings (mirrored, field left empty): {warnings}")
    console.print(f"invitations sent: {json.dumps(report.invitations) if report.invitations else 'none'}")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("sync")(sync)
    app.command("reconcile")(reconcile)
    app.command("status")(status)
    register_more(app)


def invite(
    config: ConfigOption = None,
    site: Annotated[
        list[str] | None, typer.Option("--site", help="1C department ref of a site (repeatable).")
    ] = None,
    channel: Annotated[str, typer.Option("--channel", help="email or sms")] = "email",
    never_logged_in: Annotated[
        bool, typer.Option("--never-logged-in/--everyone", help="Only people who never logged in.")
    ] = True,
    due: Annotated[
        bool, typer.Option("--due", help="Send the scheduled reminders that are due now.")
    ] = False,
) -> None:
    """Invite people to the portal again, by e-mail or SMS; every invitation is recorded."""
    from connectors.errors import ConfigError
    from sync.invitations import invite_due, invite_sites

    if channel not in ("email", "sms"):
        raise typer.BadParameter("channel must be email or sms")

    async def body(bridge: Bridge) -> dict[str, int]:
        if bridge.messaging is None:
            raise ConfigError("no e-mail or SMS gateway is configured (messaging.smtp / messaging.sms)")
        parts = (bridge.b24, bridge.messaging, bridge.store.sessions)
        url = bridge.portal_url
        if due:
            plan = bridge.settings.invitations
            return await invite_due(*parts, channel, url, plan.resend_after_days, plan.max_invitations)  # type: ignore[arg-type]
        return await invite_sites(*parts, site or [], channel, url, never_logged_in_only=never_logged_in)  # type: ignore[arg-type]

    counts = with_bridge(config, body)
    console.print_json(json.dumps(counts))


managers_app = typer.Typer(help="Client managers: who sees and approves which sites.", no_args_is_help=True)


@managers_app.command("add")
def managers_add(
    email: Annotated[str, typer.Argument(help="The manager's e-mail.")],
    site: Annotated[list[str], typer.Option("--site", help="1C department ref of a site (repeatable).")],
    role: Annotated[
        str, typer.Option("--role", help="timesheet_approver | order_submitter | viewer")
    ] = "viewer",
    name: Annotated[str | None, typer.Option("--name", help="Display name for the invitation.")] = None,
    config: ConfigOption = None,
) -> None:
    """Assign a manager to sites, invite them and make them moderators of those sites' groups."""
    from sync import managers

    def body(store: Store) -> int:
        with store.sessions.begin() as session:
            return managers.add(session, email, site, role, name)

    changed = with_store(config, body)
    counts = with_bridge(config, lambda bridge: managers.apply(bridge.b24, bridge.store.sessions))
    console.print(f"{changed} assignment(s) added; " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@managers_app.command("remove")
def managers_remove(
    email: Annotated[str, typer.Argument(help="The manager's e-mail.")],
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (default: all).")] = None,
    config: ConfigOption = None,
) -> None:
    """Take a manager off sites (all by default) and out of their groups."""
    from sync import managers

    def body(store: Store) -> int:
        with store.sessions.begin() as session:
            return managers.remove(session, email, site)

    removed = with_store(config, body)
    counts = with_bridge(config, lambda bridge: managers.apply(bridge.b24, bridge.store.sessions))
    console.print(f"{removed} assignment(s) removed; " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@managers_app.command("list")
def managers_list(config: ConfigOption = None) -> None:
    """List manager assignments."""
    from sync import managers

    def body(store: Store) -> list[managers.Assignment]:
        with store.sessions() as session:
            return managers.listing(session)

    table = Table(title="Client managers")
    for column in ("e-mail", "site", "role", "Bitrix24 user", "state"):
        table.add_column(column)
    for item in with_store(config, body):
        table.add_row(
            item.email,
            item.site_ref,
            item.role,
            str(item.b24_user_id or "-"),
            "removed" if item.removed else "active",
        )
    console.print(table)


def register_more(app: typer.Typer) -> None:
    app.command("invite")(invite)
    app.add_typer(managers_app, name="managers")
