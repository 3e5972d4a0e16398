"""An empty change-feed batch touches only the run ledger and the cursor, whatever the store holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from sync import run
from sync.run import SyncContext
from tests.integration.sync.conftest import World

# A table name after FROM, INTO, UPDATE or JOIN (not the SET of ON CONFLICT … DO UPDATE SET).
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(?!SET\b)\"?(\w+)", re.IGNORECASE)


@contextmanager
def tables_touched(world: World) -> Iterator[set[str]]:
    touched: set[str] = set()

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        touched.update(name.lower() for name in _TABLE.findall(statement))

    event.listen(world.store.engine, "before_cursor_execute", seen)
    try:
        yield touched
    finally:
        event.remove(world.store.engine, "before_cursor_execute", seen)


async def test_an_empty_feed_batch_touches_the_run_ledger_only(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    await run.incremental(ctx)  # acknowledges whatever the full run left in the feed
    before = len(world.b24.knobs.log())
    with tables_touched(world) as touched:
        reports = await run.incremental(ctx)
    assert reports and not any(r.plan.operations for r in reports)
    assert len(world.b24.knobs.log()) == before  # nothing asked of Bitrix24
    # job_leases: the sync lease every run that applies holds (two syncs never run at once)
    assert touched and touched <= {"sync_runs", "plan_items", "change_feed", "job_leases"}, touched
