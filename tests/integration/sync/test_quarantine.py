"""Quarantine: bad records are parked with a reason, never stop the run, and retry when 1C fixes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from connectors.bitrix24.port import Call, CallOutcome
from store.models import QuarantineRecord
from sync import run
from sync.run import SyncContext
from tests.integration.sync.conftest import World


def open_quarantine(world: World) -> dict[str, str]:
    with world.store.sessions() as session:
        rows = session.execute(
            select(QuarantineRecord.source_ref, QuarantineRecord.reason_code).where(
                QuarantineRecord.kind == "person", QuarantineRecord.resolved_at.is_(None)
            )
        ).all()
    return {ref: code for ref, code in rows}


async def test_fixed_email_in_1c_releases_the_person(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    parked = open_quarantine(world)
    ref = next(r for r, code in parked.items() if code == "no_email")
    again = await run.full(ctx)
    assert not any(o.ref == ref for o in again.plan.operations), "an unchanged quarantined person was retried"

    world.onec.knobs.edit_person(ref, emails=["fixed.address@example.org"])
    await run.incremental(ctx)
    assert ref not in open_quarantine(world)
    assert len(world.users_by_xml_id().get(ref, [])) == 1


class RacingPort:
    """The real gateway; just before the first user.add batch, someone else takes an e-mail by hand."""

    def __init__(self, world: World, inner: Any) -> None:
        self.world, self.inner, self.taken = world, inner, ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        adds = [c for c in calls if c.method == "user.add"]
        if adds and not self.taken:
            self.taken = adds[0].params["EMAIL"]
            self.world.b24.knobs.add_user({"EMAIL": self.taken, "XML_ID": "hand-made"})
        return list(await self.inner.batch(calls, halt=halt))


async def test_bitrix_refusal_quarantines_only_that_person(world: World, ctx: SyncContext) -> None:
    racing = RacingPort(world, ctx.b24)
    ctx.b24 = racing
    report = await run.full(ctx)
    assert report.applied is not None and report.applied.quarantined == 1 and report.applied.failed == 0
    victim = next(
        o.ref for o in report.plan.operations if o.payload.get("fields", {}).get("EMAIL") == racing.taken
    )
    assert open_quarantine(world)[victim] == "ERROR_ARGUMENT"
    mirrored = set(world.users_by_xml_id()) - {"hand-made"}
    assert victim not in mirrored
    assert len(mirrored) == report.plan.count()["create_user"] - 1
