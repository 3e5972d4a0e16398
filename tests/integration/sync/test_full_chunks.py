"""The full run plans a chunk of persons at a time from the replica (sync/full.py): same plan as at once."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from core.clock import utcnow
from store.models import IdentityLink, SourceRecord
from sync import full, run
from sync.diff import state_hash
from sync.run import SyncContext
from sync.source import content_hash
from tests.integration.sync.conftest import World


def _quarantine(report: run.RunReport) -> list[tuple[str, str]]:
    return [(q.ref, q.code) for q in report.plan.quarantined]


async def test_chunks_of_seven_plan_what_one_chunk_plans(
    world: World, ctx: SyncContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = await run.full(ctx, dry_run=True)
    assert "duplicate_email" in {code for _, code in _quarantine(whole)}, "no cross-person rule was exercised"
    monkeypatch.setattr(full, "PERSON_CHUNK", 7)
    chunked = await run.full(ctx, dry_run=True)
    assert chunked.plan.operations == whole.plan.operations
    assert _quarantine(chunked) == _quarantine(whole)
    assert chunked.plan.due == whole.plan.due
    stored = await run.full(ctx)  # from the replica, chunk by chunk, into the ledger
    assert stored.plan.operations == whole.plan.operations
    assert _quarantine(stored) == _quarantine(whole)
    assert stored.applied is not None and stored.applied.failed == 0


async def test_a_big_run_reports_its_first_operations_and_counts_them_all(
    world: World, ctx: SyncContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = await run.full(ctx, dry_run=True)
    monkeypatch.setattr(full, "REPORTED_OPERATIONS", 10)
    stored = await run.full(ctx)
    assert stored.plan.operations == whole.plan.operations[:10]
    assert stored.plan.count() == whole.plan.count()


async def test_a_replica_row_the_snapshot_no_longer_has_is_not_mirrored(
    world: World, ctx: SyncContext
) -> None:
    """A linked person 1C no longer sends is deactivated, though the replica still holds the old record."""
    user_id = world.b24.knobs.add_user({"EMAIL": "gone@example.org", "NAME": "Gone", "XML_ID": "gone-ref"})
    payload = {
        "ref": "gone-ref",
        "last_name": "Gone",
        "first_name": "Old",
        "middle_name": None,
        "birth_date": None,
        "gender": None,
        "emails": ["gone@example.org"],
        "phones": [],
        "deleted": False,
    }
    state = {"fields": {"EMAIL": "gone@example.org"}, "groups": [], "active": True}
    now = utcnow()
    with world.store.sessions() as session:
        session.execute(
            insert(SourceRecord),
            [
                {
                    "entity": "Person",
                    "ref": "gone-ref",
                    "parent_ref": None,
                    "payload": payload,
                    "content_hash": content_hash(payload),
                    "updated_at": now,
                }
            ],
        )
        session.execute(
            insert(IdentityLink),
            [
                {
                    "kind": "person",
                    "source_ref": "gone-ref",
                    "b24_id": user_id,
                    "state": state,
                    "content_hash": state_hash(state),
                    "last_seen_at": now,
                    "updated_at": now,
                }
            ],
        )
        session.commit()
    report = await run.full(ctx)
    gone = [o for o in report.plan.operations if o.ref == "gone-ref"]
    assert [(o.op, o.payload["fields"]) for o in gone] == [("update_user", {"ACTIVE": "N"})]
