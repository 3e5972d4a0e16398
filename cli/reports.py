"""Read-only listings for people: `sites list` (the refs `managers add` and `invite` take) and
`quarantine list|show|retry` (who could not be mirrored, and why). Tables, or JSON with ``--json``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import with_store
from cli.options import ConfigOption, JsonOption

if TYPE_CHECKING:
    from config.wiring import Store

sites_app = typer.Typer(help="Client sites mirrored as extranet groups.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="People and sites the mirror had to set aside, with the reason.", no_args_is_help=True
)


def _table(title: str, columns: list[str], rows: list[dict[str, Any]], as_json: bool) -> None:
    from rich.table import Table

    from cli.common import console

    if as_json:
        console.print_json(json.dumps(rows, ensure_ascii=False, default=str))
        return
    table = Table(title=f"{title} ({len(rows)})")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(v) if v is not None else "-" for v in row.values()))
    console.print(table)


@sites_app.command("list")
def sites_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Every client site (1C department) the mirror knows, with its extranet group."""
    from sqlalchemy import select

    from store.models import IdentityLink

    def body(store: Store) -> list[dict[str, Any]]:
        with store.sessions() as session:
            links = session.scalars(
                select(IdentityLink)
                .where(IdentityLink.kind == "department")
                .order_by(IdentityLink.source_ref)
            )
            return [
                {
                    "site": link.source_ref,
                    "name": (link.state or {}).get("fields", {}).get("NAME", ""),
                    "bitrix24_group": link.b24_id,
                }
                for link in links
            ]

    rows = with_store(config, body)
    if not rows and not as_json:
        typer.echo("no sites yet: run `extranet-bridge sync` first")
        return
    _table("Sites", ["site (use with --site)", "name", "Bitrix24 group"], rows, as_json)


def _records(store: Store, ref: str | None = None, include_resolved: bool = False) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from cli.names import names
    from store.models import QuarantineRecord

    with store.sessions() as session:
        query = select(QuarantineRecord).order_by(QuarantineRecord.reason_code, QuarantineRecord.source_ref)
        if ref is not None:
            query = query.where(QuarantineRecord.source_ref == ref)
        if not include_resolved:
            query = query.where(QuarantineRecord.resolved_at.is_(None))
        records = list(session.scalars(query))
        known = names(session, {r.source_ref for r in records})
        return [
            {
                "ref": r.source_ref,
                "name": known.get(r.source_ref, ""),
                "kind": r.kind,
                "reason_code": r.reason_code,
                "reason": r.reason,
                "since": str(r.first_seen_at)[:19],
                "resolved": str(r.resolved_at)[:19] if r.resolved_at else None,
            }
            for r in records
        ]


@quarantine_app.command("list")
def quarantine_list(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Who is set aside now, and why (fix the data in 1C; the next run picks the change up)."""
    rows = with_store(config, _records)
    if not rows and not as_json:
        typer.echo("quarantine is empty")
        return
    _table(
        "Quarantine",
        ["ref", "name", "kind", "reason", "detail", "since", "resolved"],
        rows,
        as_json,
    )


@quarantine_app.command("show")
def quarantine_show(
    ref: Annotated[str, typer.Argument(help="The 1C ref from `quarantine list`.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One record in full, resolved ones included."""
    rows = with_store(config, lambda store: _records(store, ref, include_resolved=True))
    if not rows:
        raise typer.BadParameter(f"nothing in quarantine has the ref {ref}", param_hint="REF")
    if as_json:
        _table("", [], rows, True)
        return
    for key, value in rows[0].items():
        typer.echo(f"{key:12} {value if value is not None else '-'}")


@quarantine_app.command("retry")
def quarantine_retry(
    ref: Annotated[str, typer.Argument(help="The 1C ref from `quarantine list`.")],
    config: ConfigOption = None,
) -> None:
    """Release a record so the next full run plans it again (after fixing what the reason names)."""
    from sync import commit

    def body(store: Store) -> int:
        rows = _records(store, ref)
        with store.sessions.begin() as session:
            for row in rows:
                commit.clear_quarantine(session, row["kind"], [ref])
        return len(rows)

    if not with_store(config, body):
        raise typer.BadParameter(f"nothing open in quarantine has the ref {ref}", param_hint="REF")
    typer.echo(f"released {ref}; run `extranet-bridge sync --mode full` to plan it again")


def register(app: typer.Typer) -> None:
    app.add_typer(sites_app, name="sites")
    app.add_typer(quarantine_app, name="quarantine")
