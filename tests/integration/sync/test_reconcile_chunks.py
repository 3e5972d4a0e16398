"""Reconcile compares Bitrix24's users a chunk at a time: the chunk size changes nothing but memory."""

from __future__ import annotations

from sqlalchemy import select

from store.models import IdentityLink
from sync import run
from sync.reconcile import drift_counts
from sync.repair import plan_repair
from sync.run import SyncContext
from tests.integration.sync.conftest import TODAY, World
from tests.integration.sync.test_reconcile import rest


async def test_small_chunks_find_the_same_drift_and_plan_as_one(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    with world.store.sessions() as session:
        people = session.execute(
            select(IdentityLink.source_ref, IdentityLink.b24_id).where(IdentityLink.kind == "person")
        ).all()
    (off_ref, off_id), (_, renamed_id) = people[0], people[-1]
    rest(world, "user.update", {"ID": int(str(off_id)), "ACTIVE": "N"})
    rest(world, "user.update", {"ID": int(str(renamed_id)), "LAST_NAME": "Переименован"})
    world.b24.knobs.add_user({"EMAIL": "stray@example.org", "XML_ID": "not-a-1c-ref"})
    before = len(world.b24.knobs.log())

    whole = await plan_repair(ctx.b24, ctx.sessions, ctx.mapping, TODAY)
    reads = world.b24.knobs.log()[before:]
    chunked = await plan_repair(ctx.b24, ctx.sessions, ctx.mapping, TODAY, users_per_chunk=7)

    assert len(people) > 7 * 3  # several chunks
    assert drift_counts(whole.drift) == drift_counts(chunked.drift)
    assert drift_counts(whole.drift) == {"deactivated": 1, "fields_changed": 1, "unknown_xml_id": 1}
    assert sorted(map(repr, whole.plan.operations)) == sorted(map(repr, chunked.plan.operations))
    assert any(op.ref == off_ref and op.op == "update_user" for op in whole.plan.operations)
    assert whole.scope == chunked.scope and off_ref in whole.scope
    # groups and users (fewer than 2,500 each): one batch request each; member lists 50 groups a request
    groups = len(world.b24.knobs.groups())
    members = [("batch", min(50, groups - start)) for start in range(0, groups, 50)]
    sent = [(e["method"], e.get("commands")) for e in reads]
    assert sent[0] == sent[-1] == ("batch", 50)  # groups, then users
    assert sorted(sent[1:-1]) == sorted(members)  # member lists travel concurrently
