"""`regulations …`: local acts that every employee of a legal entity must read and confirm.

publish (file → the entity's group Drive, one task per employee), collect (closed tasks → confirmations),
remind (open ones → a Bitrix24 notification through the outbox), list, sheet (XLSX confirmation sheet).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import with_bridge, with_store
from cli.options import ConfigOption, JsonOption

if TYPE_CHECKING:
    from config.wiring import Bridge, Store


def _print(counts: dict[str, object], as_json: bool, title: str) -> None:
    from cli.common import console

    if as_json:
        console.print_json(json.dumps(counts, default=str))
    else:
        console.print(f"{title}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def publish(
    entity: Annotated[
        str, typer.Option("--entity", help="1C ref of the legal entity (its group gets the file).")
    ],
    file: Annotated[
        Path, typer.Option("--file", exists=True, dir_okay=False, readable=True, help="The document.")
    ],
    title: Annotated[str | None, typer.Option("--title", help="Its title (default: the file name).")] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=365, help="Days the employees have to read it.")
    ] = 10,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Publish a local act to a legal entity's group and give each of its employees a task to confirm it."""
    from dataclasses import asdict

    from core.clock import utcnow
    from processes.regulations_run import publish as run

    async def body(bridge: Bridge) -> dict[str, object]:
        now = utcnow()
        doc, report = await run(
            bridge.b24,
            bridge.store.sessions,
            org_ref=entity,
            file_name=file.name,
            content=file.read_bytes(),
            title=title or file.stem,
            deadline=(now + timedelta(days=days)).date(),
            portal_url=bridge.portal_url,
            at=now,
        )
        return {"document": doc.document_id, **asdict(report)}

    _print(with_bridge(config, body), as_json, "published")


def collect(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Record the confirmations: tasks the employees closed themselves."""
    from dataclasses import asdict

    from core.clock import utcnow
    from processes.regulations_run import collect as run

    async def body(bridge: Bridge) -> dict[str, object]:
        report = await run(bridge.b24, bridge.store.sessions, utcnow())
        return {k: v for k, v in asdict(report).items() if k != "documents"}

    _print(with_bridge(config, body), as_json, "confirmations")


def remind(
    every: Annotated[int, typer.Option("--every-days", min=1, help="Remind once per this many days.")] = 3,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue a reminder for everyone who has not confirmed yet (sent by the service's outbox job)."""
    import asyncio

    from core.clock import utcnow
    from processes.regulations_run import remind as run

    def body(store: Store) -> dict[str, object]:
        return {"queued": asyncio.run(run(store.sessions, utcnow(), timedelta(days=every)))}

    _print(with_store(config, body), as_json, "reminders")


def list_documents(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Published documents with how many employees confirmed them."""
    from collections import Counter

    from cli.common import console
    from store.regulations import Regulations

    def body(store: Store) -> list[dict[str, object]]:
        with store.sessions() as session:
            repo = Regulations(session)
            rows = []
            for doc in repo.documents():
                states = Counter(a.state for a in repo.acknowledgements(doc.document_id))
                rows.append(
                    {
                        "document": doc.document_id,
                        "entity": doc.org_ref,
                        "title": doc.title,
                        "deadline": doc.deadline.isoformat(),
                        "confirmed": states["confirmed"],
                        "open": states["assigned"],
                    }
                )
            return rows

    rows = with_store(config, body)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    from rich.table import Table

    table = Table(title="Local acts")
    for column in ("document", "entity", "title", "deadline", "confirmed", "open"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(str(row[c]) for c in ("document", "entity", "title", "deadline", "confirmed", "open"))
        )
    console.print(table if rows else "no documents published yet: `extranet-bridge regulations publish`")


def sheet(
    document: Annotated[str, typer.Argument(help="The document id (`extranet-bridge regulations list`).")],
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False, help="Where to write the XLSX.")],
    config: ConfigOption = None,
) -> None:
    """Write the confirmation sheet (лист ознакомления) of a document as XLSX."""
    from cli.common import console
    from processes.regulations_run import sheet as build

    def body(store: Store) -> int:
        _doc, data = build(store.sessions, document)
        output.write_bytes(data)
        return len(data)

    size = with_store(config, body)
    console.print(f"wrote {output} ({size} bytes)")


def register(group: typer.Typer) -> None:
    group.command("publish")(publish)
    group.command("collect")(collect)
    group.command("remind")(remind)
    group.command("list")(list_documents)
    group.command("sheet")(sheet)
