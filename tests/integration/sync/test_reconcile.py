"""Reconcile: drift made by hand in Bitrix24 is reported, repaired, and gone afterwards."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from store.models import IdentityLink
from sync import run
from sync.reconcile import drift_counts
from sync.run import SyncContext
from tests.integration.sync.conftest import World


def rest(world: World, method: str, body: dict[str, object]) -> object:
    response = httpx.post(f"{world.b24.webhook_url}{method}.json", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def test_drift_is_reported_then_repaired(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    with world.store.sessions() as session:
        people = session.execute(
            select(IdentityLink.source_ref, IdentityLink.b24_id, IdentityLink.state).where(
                IdentityLink.kind == "person"
            )
        ).all()
        rows = session.execute(
            select(IdentityLink.source_ref, IdentityLink.b24_id).where(IdentityLink.kind == "department")
        ).all()
        groups = {f"department:{ref}": str(b24_id) for ref, b24_id in rows}
    (_, off_id, _), (_, renamed_id, _), (_, left_id, left_state) = people[:3]
    rest(world, "user.update", {"ID": int(off_id), "ACTIVE": "N"})
    rest(world, "user.update", {"ID": int(renamed_id), "LAST_NAME": "Переименован"})
    left_group = next(g for g in left_state["groups"] if g.startswith("department:"))
    left_group_id = int(groups[left_group])
    rest(world, "sonet_group.user.delete", {"GROUP_ID": left_group_id, "USER_ID": [int(left_id)]})
    stray = world.b24.knobs.add_user({"EMAIL": "stray@example.org", "XML_ID": "not-a-1c-ref"})

    before = len(world.b24.knobs.log())
    report = await run.reconcile(ctx, dry_run=True)
    counts = drift_counts(report.drift)
    assert counts.get("deactivated") == 1
    assert counts.get("fields_changed") == 1
    assert counts.get("left_group") == 1
    assert any(d.kind == "unknown_xml_id" and d.b24_id == stray for d in report.drift)
    writes = {e["method"] for e in world.b24.knobs.log()[before:]} - {
        "user.get",
        "sonet_group.get",
        "sonet_group.user.get",
        "batch",
    }
    assert writes == set(), "a dry run wrote to Bitrix24"

    repaired = await run.reconcile(ctx)
    assert repaired.applied is not None and repaired.applied.failed == 0
    assert world.b24.knobs.user(int(off_id))["fields"]["ACTIVE"] is True  # type: ignore[index]
    assert world.b24.knobs.user(int(renamed_id))["fields"]["LAST_NAME"] != "Переименован"  # type: ignore[index]
    assert left_group_id in world.b24.knobs.user(int(left_id))["groups"]  # type: ignore[index]

    after = await run.reconcile(ctx, dry_run=True)
    assert [d.kind for d in after.drift] == ["unknown_xml_id"]
    assert after.plan.operations == []
