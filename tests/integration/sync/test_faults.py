"""The mirror over a flaky Bitrix24: 500s, 503s, HTML error pages and answers lost after the portal acted."""

from __future__ import annotations

from sqlalchemy import select

from store.models import QuarantineRecord
from sync import run
from sync.run import SyncContext
from tests.integration.sync.conftest import World

CONTENT_REASONS = {"no_email", "malformed_email", "malformed_phone", "duplicate_email", "email_taken"}


async def test_rough_portal_converges_without_duplicates(world: World, ctx: SyncContext) -> None:
    world.b24.knobs.faults(error_500=0.05, error_503=0.05, html=0.05, reset=0.1, seed=3)
    first = await run.full(ctx)
    assert first.applied is not None
    world.b24.knobs.faults()  # the portal recovers; a second run finishes what failed
    second = await run.full(ctx)
    assert second.applied is not None and second.applied.failed == 0
    by_ref = world.users_by_xml_id()
    assert by_ref and all(len(users) == 1 for users in by_ref.values()), (
        "a lost answer led to a duplicate user"
    )
    names = [g["fields"]["NAME"] for g in world.b24.knobs.groups()]
    assert len(names) == len(set(names)), "a lost answer led to a duplicate group"
    with world.store.sessions() as session:
        reasons = set(
            session.scalars(
                select(QuarantineRecord.reason_code).where(
                    QuarantineRecord.kind == "person", QuarantineRecord.resolved_at.is_(None)
                )
            )
        )
    assert reasons <= CONTENT_REASONS, f"a transient failure parked a person: {reasons - CONTENT_REASONS}"
    third = await run.full(ctx)
    assert third.plan.operations == []
