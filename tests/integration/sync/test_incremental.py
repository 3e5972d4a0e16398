"""Incremental mirror from the 1C change feed: hire, transfer, dismissal, rehire, future-dated changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from config.wiring import Bridge
from store.models import ChangeFeedCursor, DueChange, IdentityLink
from sync import run
from sync.run import SyncContext
from tests.integration.sync.conftest import TODAY, World


def _user(world: World, person_ref: str) -> dict[str, Any]:
    users = [u for u in world.b24.knobs.users() if u["fields"].get("XML_ID") == person_ref]
    assert len(users) == 1, f"expected exactly one Bitrix24 user for {person_ref}, found {len(users)}"
    return users[0]


def _mirrored_employee(world: World) -> dict[str, Any]:
    with world.store.sessions() as session:
        linked = set(session.scalars(select(IdentityLink.source_ref).where(IdentityLink.kind == "person")))
    for employee in world.onec.knobs.pick("Employee", n=500, active=True):
        if employee["person_ref"] in linked and employee["kind"] == "Main":
            return employee
    raise AssertionError("no mirrored active employee found")


async def test_hire_transfer_dismissal_and_rehire_flow_through(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    knobs = world.onec.knobs
    hired = knobs.hire(
        lastName="Новикова",
        firstName="Анна",
        gender="Female",
        emails=["anna.novikova@example.org"],
        phones=["+79031234567"],
    )
    moved = _mirrored_employee(world)
    target_dept = next(
        d["ref"] for d in knobs.pick("Department", n=50) if d["ref"] != moved["current"]["dept_ref"]
    )
    knobs.transfer(moved["ref"], deptRef=target_dept)
    leaving = next(
        e
        for e in knobs.pick("Employee", n=500, active=True)
        if e["ref"] != moved["ref"] and e["kind"] == "Main"
    )
    with world.store.sessions() as session:
        assert session.scalar(select(IdentityLink.id).where(IdentityLink.source_ref == leaving["person_ref"]))
    knobs.dismiss(leaving["ref"], date=(TODAY - timedelta(days=1)).isoformat())

    reports = await run.incremental(ctx)
    assert reports and all(r.applied is not None and r.applied.failed == 0 for r in reports)
    assert _user(world, hired["personRef"])["fields"]["ACTIVE"] is True
    moved_user = _user(world, moved["person_ref"])
    with world.store.sessions() as session:
        dept_group = session.scalar(
            select(IdentityLink.b24_id).where(
                IdentityLink.kind == "department", IdentityLink.source_ref == target_dept
            )
        )
        cursor = session.get(ChangeFeedCursor, "main")
    assert int(dept_group or 0) in moved_user["groups"]
    gone = _user(world, leaving["person_ref"])
    assert gone["fields"]["ACTIVE"] is False
    assert cursor is not None and cursor.committed_message_no == reports[-1].message_no

    knobs.rehire(leaving["ref"])
    await run.incremental(ctx)
    back = _user(world, leaving["person_ref"])
    assert back["id"] == gone["id"] and back["fields"]["ACTIVE"] is True


async def test_future_dismissal_waits_for_its_day(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    leaving = _mirrored_employee(world)
    last_day = TODAY + timedelta(days=3)
    world.onec.knobs.dismiss(leaving["ref"], date=last_day.isoformat())
    await run.incremental(ctx)
    assert _user(world, leaving["person_ref"])["fields"]["ACTIVE"] is True
    with world.store.sessions() as session:
        due = session.scalar(select(DueChange.due_on).where(DueChange.source_ref == leaving["person_ref"]))
    assert due == last_day + timedelta(days=1)

    not_yet = await run.due(ctx)
    assert not_yet.plan.operations == []
    ctx.today = last_day + timedelta(days=1)
    report = await run.due(ctx)
    assert report.applied is not None and report.applied.failed == 0
    assert _user(world, leaving["person_ref"])["fields"]["ACTIVE"] is False


async def test_nothing_changed_means_no_writes(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    await run.incremental(ctx)
    before = len(world.b24.knobs.log())
    reports = await run.incremental(ctx)
    assert all(not r.plan.operations for r in reports)
    assert {e["method"] for e in world.b24.knobs.log()[before:]} <= {"user.get", "batch"}


async def test_business_day_is_the_1c_servers_date(world: World, bridge: Bridge) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    info = await bridge.onec.info()
    assert await run.business_day(bridge.sync_context()) == datetime.now(ZoneInfo(info.time_zone)).date()
    assert await run.business_day(bridge.sync_context(TODAY)) == TODAY
