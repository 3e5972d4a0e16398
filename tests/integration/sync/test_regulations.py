"""Acknowledgement of local regulations against both sandboxes: publish to a legal entity's group, one
task per mirrored employee (never two), confirmations only from the employee's own closing, reminders
through the outbox, and the XLSX confirmation sheet."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import func, select

from config.wiring import Bridge
from portal.cabinet import confirm
from processes import regulations as reg
from processes.regulations_run import collect, publish, remind, sheet
from sandbox.bitrix24.testing import Rest
from store.models import IdentityLink, OutboxMessage
from store.process_repo import ProcessRepository
from store.regulations import Regulations
from sync import run
from sync.run import SyncContext
from tests.integration.sync.conftest import World

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CONTENT = "Правила внутреннего трудового распорядка".encode()


def _entity(world: World) -> tuple[str, int, list[int]]:
    """The legal entity with the most members, its group id and its members' Bitrix24 ids (role K)."""
    with world.store.sessions() as session:
        rows = session.execute(
            select(IdentityLink.source_ref, IdentityLink.b24_id).where(IdentityLink.kind == "organization")
        ).all()
    groups = {g["id"]: g for g in world.b24.knobs.groups()}
    found = []
    for ref, gid in rows:
        members = [int(uid) for uid, role in groups[int(gid or 0)]["members"].items() if role == "K"]
        found.append((str(ref), int(gid or 0), members))
    return max(found, key=lambda row: len(row[2]))


def _tasks(world: World, http: httpx.Client, tag: str) -> list[dict[str, object]]:
    rest = Rest(world.b24.webhook_url, http)
    params = {"filter": {"TAG": tag}, "select": ["ID", "RESPONSIBLE_ID"], "order": {"ID": "asc"}}
    rows: list[dict[str, object]] = []
    start = 0
    while True:
        page = rest.ok("tasks.task.list", {**params, "start": start})["tasks"]
        rows += page
        if len(page) < 50:
            return rows
        start += 50


async def test_publish_collect_remind_and_sheet(world: World, ctx: SyncContext, bridge: Bridge) -> None:
    await run.full(ctx)
    org_ref, group_id, members = _entity(world)
    assert members
    doc_id = reg.document_id(org_ref, "pvtr.pdf", CONTENT)
    http = httpx.Client(timeout=10)
    admin = Rest(world.b24.webhook_url, http)
    # A task made before a crash cut off its record: publishing adopts it instead of making a second.
    early = admin.ok(
        "tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": members[0], "TAGS": [f"lna-{doc_id}"]}}
    )

    args: dict[str, Any] = {"org_ref": org_ref, "file_name": "pvtr.pdf", "content": CONTENT, "title": "ПВТР"}
    doc, first = await publish(
        bridge.b24,
        world.store.sessions,
        **args,
        deadline=AT.date() + timedelta(days=10),
        portal_url="https://p",
        at=AT,
    )
    assert first.adopted == 1 and first.assigned == len(members) - 1 and first.failed == 0
    tasks = _tasks(world, http, doc.tag)
    assert sorted(int(str(t["responsibleId"])) for t in tasks) == sorted(members)  # one each, no more
    assert any(int(str(t["id"])) == int(early["task"]["id"]) for t in tasks)

    _, again = await publish(
        bridge.b24,
        world.store.sessions,
        **args,
        deadline=AT.date(),
        portal_url="https://p",
        at=AT + timedelta(hours=1),
    )
    assert (again.assigned, again.adopted, again.already) == (0, 0, len(members))
    assert len(_tasks(world, http, doc.tag)) == len(members)
    storage = admin.ok("disk.storage.getlist", {"filter": {"ENTITY_TYPE": "group", "ENTITY_ID": group_id}})[0]
    stored = admin.ok("disk.storage.getchildren", {"id": storage["ID"]})
    assert [f["NAME"] for f in stored if f["TYPE"] == "file"] == ["pvtr.pdf"]  # uploaded once

    by_user = {int(str(t["responsibleId"])): int(str(t["id"])) for t in tasks}
    own, closed_by_admin = members[0], members[1] if len(members) > 1 else members[0]
    employee = Rest(world.b24.knobs.webhook(user_id=own, scopes=["task"]), http)
    employee.ok("tasks.task.complete", {"taskId": by_user[own]})
    if closed_by_admin != own:
        admin.ok("tasks.task.complete", {"taskId": by_user[closed_by_admin]})
    report = await collect(bridge.b24, world.store.sessions, AT + timedelta(days=1))
    assert report.confirmed == 1 and report.closed_by_someone_else == (1 if closed_by_admin != own else 0)
    assert report.open == len(members) - 1
    assert report.tasks_closed == 0  # the one confirmed was closed by its employee already
    assert (await collect(bridge.b24, world.store.sessions, AT + timedelta(days=1))).confirmed == 0

    queued = await remind(world.store.sessions, AT + timedelta(days=4), timedelta(days=3))
    assert queued == len(members) - 1
    assert await remind(world.store.sessions, AT + timedelta(days=5), timedelta(days=3)) == 0
    with world.store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == queued
        acks = Regulations(session).acknowledgements(doc.document_id)
        assert {a.state for a in acks} == {"assigned", "confirmed"}
        assert all(ProcessRepository(session).verify(a.request_id) is None for a in acks)

    # Confirmed in the portal's cabinet instead: the next collect closes that employee's task for them.
    in_portal = members[-1]
    with world.store.sessions.begin() as session:
        person = next(
            a.person_ref
            for a in Regulations(session).acknowledgements(doc.document_id)
            if a.data["b24_user_id"] == in_portal
        )
        assert person and confirm(session, doc.document_id, person, in_portal, AT + timedelta(days=5))
    closing = await collect(bridge.b24, world.store.sessions, AT + timedelta(days=5))
    assert closing.tasks_closed == 1 and closing.confirmed == 0
    task = admin.ok("tasks.task.get", {"taskId": by_user[in_portal], "select": ["STATUS"]})["task"]
    assert task["status"] == "5"
    assert (await collect(bridge.b24, world.store.sessions, AT + timedelta(days=6))).tasks_closed == 0

    _, data = sheet(world.store.sessions, doc.document_id)
    rows = list(load_workbook(io.BytesIO(data)).active.iter_rows(min_row=5, values_only=True))
    assert len(rows) == len(members)
    confirmed = [r for r in rows if r[3] == "ознакомлен"]
    assert {r[6] for r in confirmed} == {f"b24:{own}", f"portal:{in_portal}"} and all(r[1] for r in confirmed)
    assert rows[: len(confirmed)] == confirmed and all(
        r[3] == "не ознакомлен" for r in rows[len(confirmed) :]
    )
    http.close()
