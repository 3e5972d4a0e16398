"""End to end against both sandboxes: first mirror, idempotent re-run, quarantine, adoption."""

from __future__ import annotations

from sqlalchemy import select

from store.models import IdentityLink, QuarantineRecord
from sync import run
from sync.run import SyncContext
from tests.integration.sync.conftest import World


async def test_first_mirror_creates_one_user_per_active_person_and_quarantines_the_rest(
    world: World, ctx: SyncContext
) -> None:
    report = await run.full(ctx)
    assert report.applied is not None and report.applied.failed == 0
    by_ref = world.users_by_xml_id()
    assert by_ref, "no user was mirrored"
    assert all(len(users) == 1 for users in by_ref.values()), "a person got two Bitrix24 users"
    with world.store.sessions() as session:
        persons = {
            r
            for (r,) in session.execute(select(IdentityLink.source_ref).where(IdentityLink.kind == "person"))
        }
        parked = dict(
            session.execute(
                select(QuarantineRecord.source_ref, QuarantineRecord.reason_code).where(
                    QuarantineRecord.kind == "person", QuarantineRecord.resolved_at.is_(None)
                )
            ).all()
        )
    assert persons == set(by_ref)
    assert parked, "the generated company has bad contacts on purpose; none were quarantined"
    assert set(parked.values()) <= {
        "no_email",
        "malformed_email",
        "malformed_phone",
        "duplicate_email",
        "email_taken",
    }
    assert not persons & set(parked)
    groups = world.b24.knobs.groups()
    with world.store.sessions() as session:
        linked_groups = session.scalars(
            select(IdentityLink.b24_id).where(IdentityLink.kind.in_(("organization", "department")))
        ).all()
    assert {int(g["id"]) for g in groups} >= set(linked_groups)
    assert len(linked_groups) == report.plan.count()["create_group"]


async def test_second_run_with_no_change_sends_no_writes(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    before = len(world.b24.knobs.log())
    again = await run.full(ctx)
    assert again.plan.operations == []
    writes = [
        e for e in world.b24.knobs.log()[before:] if not str(e.get("method", "")).endswith((".get", "batch"))
    ]
    assert writes == []


async def test_existing_bitrix_user_is_adopted_not_duplicated(world: World, ctx: SyncContext) -> None:
    plan = await run.full(ctx, dry_run=True)
    target = next(o for o in plan.plan.operations if o.op == "create_user")
    email = target.payload["fields"]["EMAIL"]
    existing = world.b24.knobs.add_user({"EMAIL": email, "NAME": "Old", "LAST_NAME": "Account"})
    await run.full(ctx)
    users = [u for u in world.users() if (u.get("EMAIL") or "").lower() == email]
    assert [int(u["ID"]) for u in users] == [existing]
    assert users[0]["XML_ID"] == target.ref
