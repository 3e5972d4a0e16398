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

ModeOption = Annotated[
    str,
    typer.Option(
        "--mode", help="full (1C snapshot), incremental (change feed), due (dated changes), or auto."
    ),
]
TodayOption = Annotated[str | None, typer.Option("--today", help="Pretend today is this date (YYYY-MM-DD).")]


def _today(value: str | None) -> date:
    return date.fromisoformat(value) if value else date.today()


def _has_runs(store: Store) -> bool:
    from sqlalchemy import func, select

    from store.models import SyncRun

    with store.sessions() as session:
        return bool(session.scalar(select(func.count()).select_from(SyncRun)))


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


async def _run(bridge: Bridge, mode: str, today: date, dry_run: bool) -> list[Any]:
    from sync import run

    if mode == "auto":
        mode = "incremental" if _has_runs(bridge.store) else "full"
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
    console.print(f"invitations sent: {json.dumps(report.invitations) if report.invitations else 'none'}")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("sync")(sync)
    app.command("reconcile")(reconcile)
    app.command("status")(status)
