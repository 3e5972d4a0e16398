"""Mirror commands: plan, sync, reconcile, status, invite, managers.

Every command that talks to Bitrix24 first confirms the portal answers with the configured credentials,
so a wrong webhook never reads as success. Reporting commands print tables, or JSON with ``--json``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import with_bridge, with_store
from cli.options import Channel, ConfigOption, JsonOption, Mode, ModeOption, Role, TodayOption

if TYPE_CHECKING:
    from config.wiring import Bridge, Store
    from sync.model import Plan


def _day(value: date | None) -> date | None:
    """The pretended date, or None: the sync then uses today in the 1C server's time zone."""
    return value


async def confirm_bitrix24(bridge: Bridge) -> str:
    """Ask Bitrix24 who we are (user.current) with the configured credentials; refuse clearly if it won't."""
    from connectors.errors import Bitrix24Error, ConfigError

    try:
        me = await bridge.b24.call("user.current")
    except Bitrix24Error as exc:
        raise ConfigError(
            f"Bitrix24 did not accept the configured credentials ({exc.operator_message}); "
            "check bitrix24.webhook_url, then run `extranet-bridge doctor`"
        ) from None
    if not isinstance(me, dict) or not me.get("ID"):
        raise ConfigError("Bitrix24 answered user.current without a user; run `extranet-bridge doctor`")
    return str(me.get("ID"))


def _short(ref: str) -> str:
    return ref.rsplit(":", 1)[-1]


def _plan_rows(plan: Plan, names: dict[str, str], first_rows: int = 5) -> list[dict[str, Any]]:
    from cli.names import labelled

    rows = []
    for op, count in sorted(plan.count().items()):
        first = [o for o in plan.operations if o.op == op][:first_rows]
        rows.append(
            {"operation": op, "count": count, "first": [labelled(_short(o.ref), names) for o in first]}
        )
    return rows


def _nothing_to_do(mode: str) -> str:
    if mode == "incremental":
        return "nothing to do: 1C's change feed carried no change since the last run"
    return (
        "nothing to do: the bridge's records match 1C; "
        "run `extranet-bridge reconcile --dry-run` to compare with Bitrix24 itself"
    )


def _print_plan(plan: Plan, names: dict[str, str], mode: str, title: str = "Planned operations") -> None:
    from rich.table import Table

    from cli.common import console

    if plan.operations:
        table = Table(title=title)
        for column in ("operation", "count", "first rows"):
            table.add_column(column, justify="right" if column == "count" else "left")
        for row in _plan_rows(plan, names):
            table.add_row(row["operation"], str(row["count"]), ", ".join(row["first"]))
        console.print(table)
    if plan.quarantined:
        quarantine = Table(title="Quarantine (see `extranet-bridge quarantine list`)")
        quarantine.add_column("reason")
        quarantine.add_column("persons", justify="right")
        for code, count in sorted(_reasons(plan).items()):
            quarantine.add_row(code, str(count))
        console.print(quarantine)
    if not plan.operations and not plan.quarantined:
        console.print(_nothing_to_do(mode))


def _reasons(plan: Plan) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for item in plan.quarantined:
        reasons[item.code] = reasons.get(item.code, 0) + 1
    return reasons


def _names_for(bridge: Bridge, plan: Plan) -> dict[str, str]:
    from cli.names import names

    refs = {_short(o.ref) for o in plan.operations[:2000]}
    with bridge.store.sessions() as session:
        known = names(session, refs)
    for operation in plan.operations[:2000]:
        fields = operation.payload.get("fields") if isinstance(operation.payload, dict) else None
        if isinstance(fields, dict) and fields.get("NAME"):
            name = " ".join(str(fields[k]) for k in ("LAST_NAME", "NAME") if fields.get(k))
            known.setdefault(_short(operation.ref), name)
    return known


async def _run(bridge: Bridge, mode: Mode, today: date | None, dry_run: bool) -> list[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cli.common import console
    from sync import run
    from sync.state import has_committed_full_run

    await confirm_bitrix24(bridge)
    chosen = mode.value
    if mode is Mode.auto:
        with bridge.store.sessions() as session:
            chosen = "incremental" if has_committed_full_run(session) else "full"
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=dry_run or not console.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{chosen} sync: Bitrix24 writes", total=None)

        def advance(done: int) -> None:
            if progress.tasks[0].total is None:  # the run's plan is in the ledger once applying starts
                progress.update(task, total=_planned_items(bridge))
            progress.advance(task, done)

        ctx = bridge.sync_context(today, on_progress=advance)
        if chosen == "full":
            return [await run.full(ctx, dry_run=dry_run)]
        if chosen == "incremental":
            return list(await run.incremental(ctx, dry_run=dry_run))
        return [await run.due(ctx, dry_run=dry_run)]


def _planned_items(bridge: Bridge) -> int:
    """Operations of the newest run (the one being applied), for the progress bar's total."""
    from sqlalchemy import func, select

    from store.models import PlanItem

    with bridge.store.sessions() as session:
        newest = session.scalar(select(func.max(PlanItem.run_id)))
        return int(session.scalar(select(func.count()).where(PlanItem.run_id == newest)) or 0)


def plan(
    config: ConfigOption = None,
    mode: ModeOption = Mode.auto,
    today: TodayOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what `sync` would do (operation counts, first rows, quarantine); changes nothing."""
    from cli.common import console

    async def body(bridge: Bridge) -> list[tuple[Any, dict[str, str]]]:
        reports = await _run(bridge, mode, _day(today), dry_run=True)
        return [(report, _names_for(bridge, report.plan)) for report in reports]

    results = with_bridge(config, body)
    if as_json:
        out = [
            {"mode": r.mode, "operations": _plan_rows(r.plan, n), "quarantine": _reasons(r.plan)}
            for r, n in results
        ]
        console.print_json(json.dumps(out, ensure_ascii=False))
        return
    for report, names in results:
        _print_plan(report.plan, names, report.mode)


def sync(config: ConfigOption = None, mode: ModeOption = Mode.auto, as_json: JsonOption = False) -> None:
    """Mirror 1C into Bitrix24: finish an interrupted run, then apply what 1C changed."""
    from cli.common import console

    reports = with_bridge(config, lambda bridge: _run(bridge, mode, None, dry_run=False))
    if as_json:
        console.print_json(json.dumps([r.summary() for r in reports], default=str))
        return
    for report in reports:
        summary = report.summary()
        planned = ", ".join(f"{op} {n}" for op, n in sorted(summary["planned"].items()))
        applied = summary["applied"] or {}
        console.print(
            f"{report.mode} run {report.run_id}: "
            + (f"planned {planned}; " if planned else _nothing_to_do(report.mode) + "; ")
            + ", ".join(f"{k} {v}" for k, v in applied.items() if isinstance(v, int))
            + (f"; {summary['quarantined']} in quarantine" if summary["quarantined"] else "")
        )


def reconcile(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report the drift.")] = False,
    today: TodayOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare Bitrix24 with the mirrored state, report who drifted and how, and repair it."""

    if today is not None and not dry_run:
        raise typer.BadParameter(
            "--today is only for plans and dry runs; add --dry-run", param_hint="--today"
        )

    async def body(bridge: Bridge) -> tuple[Any, dict[str, str]]:
        from cli.names import names
        from sync import run

        await confirm_bitrix24(bridge)
        report = await run.reconcile(bridge.sync_context(_day(today)), dry_run=dry_run)
        refs = {d.ref for d in report.drift} | {_short(o.ref) for o in report.plan.operations[:2000]}
        with bridge.store.sessions() as session:
            return report, names(session, refs)

    report, known = with_bridge(config, body)
    _show_drift(report, known, as_json)
    if not as_json:
        _print_plan(report.plan, known, "reconcile", "Repair" if not dry_run else "Repair it would make")


def _show_drift(report: Any, known: dict[str, str], as_json: bool) -> None:
    from rich.table import Table

    from cli.common import console
    from cli.names import labelled

    rows = [
        {"kind": d.kind, "who": labelled(d.ref, known), "bitrix24_id": d.b24_id, "how": d.detail}
        for d in report.drift
    ]
    if as_json:
        console.print_json(json.dumps({"drift": rows, "repair": report.plan.count()}, ensure_ascii=False))
        return
    if not rows:
        console.print("no drift found: Bitrix24's users, groups and memberships match the bridge's records")
        return
    table = Table(title=f"Drift ({len(rows)})")
    for column in ("kind", "who", "Bitrix24 id", "how"):
        table.add_column(column, overflow="fold")
    for row in rows[:200]:
        table.add_row(row["kind"], row["who"], str(row["bitrix24_id"] or "-"), row["how"])
    console.print(table)
    if len(rows) > 200:
        console.print(f"… and {len(rows) - 200} more (use --json for all)")


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Last runs, change-feed position and lag, pending dated changes, quarantine, invitations."""
    from rich.table import Table

    from cli.common import console
    from sync.report import status as read_status

    def body(store: Store) -> Any:
        with store.sessions() as session:
            return read_status(session)

    report = with_store(config, body)
    if as_json:
        console.print_json(json.dumps(vars(report), default=str))
        return
    runs = Table(title="Last runs")
    for column in ("run", "mode", "status", "started (UTC)", "planned", "applied"):
        runs.add_column(column)
    for run in report.runs:
        applied = run["applied"] or {}
        planned = ", ".join(f"{op} {n}" for op, n in sorted((run["planned"] or {}).items())) or "nothing"
        runs.add_row(
            str(run["id"]),
            run["mode"],
            run["status"],
            str(run["started_at"])[:19],
            planned,
            f"done {applied.get('done', 0)}, failed {applied.get('failed', 0)}",
        )
    console.print(runs if report.runs else "no runs yet: start with `extranet-bridge plan`, then `sync`")
    if report.feed_lag_seconds is not None:
        console.print(
            f"1C change feed: message {report.feed_message_no} acknowledged "
            f"{report.feed_lag_seconds:.0f}s ago"
        )
    elif report.runs:
        console.print("1C change feed: not read yet (the next `sync` after the full mirror reads it)")
    console.print(f"dated changes waiting: {report.due_pending} (next on {report.next_due_on or '-'})")
    quarantine = ", ".join(f"{k} {v}" for k, v in sorted(report.quarantine.items()))
    console.print(f"quarantine: {quarantine or 'empty'}")
    warnings = ", ".join(f"{k} {v}" for k, v in sorted(report.warnings.items()))
    console.print(f"data-quality warnings (mirrored, field left empty): {warnings or 'none'}")
    invitations = ", ".join(f"{k} {v}" for k, v in sorted(report.invitations.items()))
    console.print(f"invitations: {invitations or 'none sent'}")


SiteOption = Annotated[
    list[str] | None,
    typer.Option(
        "--site", help="1C department ref of a site, from `extranet-bridge sites list` (repeatable)."
    ),
]


def invite(
    config: ConfigOption = None,
    site: SiteOption = None,
    channel: Annotated[
        Channel, typer.Option("--channel", help="How to send the invitation.")
    ] = Channel.email,
    never_logged_in: Annotated[
        bool, typer.Option("--never-logged-in/--everyone", help="Only people who never logged in.")
    ] = True,
    due: Annotated[
        bool, typer.Option("--due", help="Send the scheduled reminders that are due now.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Invite people to the portal again, by e-mail or SMS; every invitation is recorded."""
    from cli.common import console
    from connectors.errors import ConfigError
    from sync.invitations import invite_due, invite_sites

    if not site and not due:
        raise typer.BadParameter("name at least one --site (see `extranet-bridge sites list`) or use --due")

    async def body(bridge: Bridge) -> dict[str, int]:
        if bridge.messaging is None:
            raise ConfigError("no e-mail or SMS gateway is configured (messaging.smtp / messaging.sms)")
        await confirm_bitrix24(bridge)
        parts = (bridge.b24, bridge.messaging, bridge.store.sessions)
        url = bridge.portal_url
        if due:
            plan = bridge.settings.invitations
            return await invite_due(*parts, channel.value, url, plan.resend_after_days, plan.max_invitations)
        return await invite_sites(
            *parts, site or [], channel.value, url, never_logged_in_only=never_logged_in
        )

    counts = with_bridge(config, body)
    if as_json:
        console.print_json(json.dumps(counts))
    else:
        console.print("invitations: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))


managers_app = typer.Typer(help="Client managers: who sees and approves which sites.", no_args_is_help=True)


@managers_app.command("add")
def managers_add(
    email: Annotated[str, typer.Argument(help="The manager's e-mail.")],
    site: Annotated[
        list[str], typer.Option("--site", help="1C department ref of a site, from `sites list` (repeatable).")
    ],
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="Their place in the sites' groups: timesheet_approver moderates, the others are members "
            "(the mapping may differ); the HR process pages that will use it are not served yet.",
        ),
    ] = Role.viewer,
    name: Annotated[str | None, typer.Option("--name", help="Display name for the invitation.")] = None,
    config: ConfigOption = None,
) -> None:
    """Assign a manager to sites, invite them and add them to those sites' groups with their role."""
    from cli.common import console
    from sync import managers

    def body(store: Store) -> int:
        with store.sessions.begin() as session:
            return managers.add(session, email, site, role.value, name)

    changed = with_store(config, body)

    async def apply(bridge: Bridge) -> dict[str, int]:
        await confirm_bitrix24(bridge)
        return await managers.apply(bridge.b24, bridge.store.sessions)

    counts = with_bridge(config, apply)
    console.print(f"{changed} assignment(s) added; " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@managers_app.command("remove")
def managers_remove(
    email: Annotated[str, typer.Argument(help="The manager's e-mail.")],
    site: Annotated[list[str] | None, typer.Option("--site", help="Only these sites (default: all).")] = None,
    config: ConfigOption = None,
) -> None:
    """Take a manager off sites (all by default) and out of their groups."""
    from cli.common import console
    from sync import managers

    def body(store: Store) -> int:
        with store.sessions.begin() as session:
            return managers.remove(session, email, site)

    removed = with_store(config, body)

    async def apply(bridge: Bridge) -> dict[str, int]:
        await confirm_bitrix24(bridge)
        return await managers.apply(bridge.b24, bridge.store.sessions)

    counts = with_bridge(config, apply)
    console.print(f"{removed} assignment(s) removed; " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@managers_app.command("list")
def managers_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List manager assignments, with the sites' names."""
    from rich.table import Table

    from cli.common import console
    from cli.names import labelled, names
    from sync import managers

    def body(store: Store) -> tuple[list[Any], dict[str, str]]:
        with store.sessions() as session:
            items = managers.listing(session)
            return items, names(session, {i.site_ref for i in items})

    items, known = with_store(config, body)
    rows = [
        {
            "email": i.email,
            "site": labelled(i.site_ref, known),
            "role": i.role,
            "bitrix24_user": i.b24_user_id,
            "state": "removed" if i.removed else "active",
        }
        for i in items
    ]
    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title="Client managers")
    for column in ("e-mail", "site", "role", "Bitrix24 user", "state"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["email"], row["site"], row["role"], str(row["bitrix24_user"] or "-"), row["state"])
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("sync")(sync)
    app.command("reconcile")(reconcile)
    app.command("status")(status)
    app.command("invite")(invite)
    app.add_typer(managers_app, name="managers")
