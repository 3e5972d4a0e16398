"""A crash at any point of apply resumes without duplicate users or groups."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from connectors.bitrix24.port import Bitrix24Port, Call, CallOutcome
from store.models import IdentityLink, SyncRun
from sync import run
from sync.run import SyncContext
from tests.integration.sync.conftest import World


class Crash(Exception):
    """The process died: whatever Bitrix24 did with the last batch, the bridge never saw the answer."""


class CrashingPort:
    """The real gateway, except that the n-th batch is delivered and then the 'process' dies."""

    def __init__(self, inner: Bitrix24Port, crash_on_batch: int) -> None:
        self.inner = inner
        self.crash_on_batch = crash_on_batch
        self.batches = 0

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.inner.call(method, params)

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        self.batches += 1
        outcomes = await self.inner.batch(calls, halt=halt)
        if self.batches == self.crash_on_batch:
            raise Crash(f"died after sending batch {self.batches}")
        return outcomes

    def list_all(
        self, method: str, params: Mapping[str, Any] | None = None, *, id_key: str = "ID"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        return self.inner.list_all(method, params, id_key=id_key)

    async def close(self) -> None:
        await self.inner.close()


@pytest.mark.parametrize("crash_on_batch", [2, 3, 5, 6])
async def test_crash_mid_apply_then_resume_creates_no_duplicates(
    world: World, ctx: SyncContext, crash_on_batch: int
) -> None:
    real = ctx.b24
    ctx.b24 = CrashingPort(real, crash_on_batch)
    with pytest.raises(Crash):
        await run.full(ctx)
    with world.store.sessions() as session:
        assert session.scalar(select(SyncRun.status)) in ("planned", "applying")

    ctx.b24 = real
    report = await run.full(ctx)
    assert report.resumed, "the interrupted run was not finished first"
    by_ref = world.users_by_xml_id()
    assert by_ref and all(len(users) == 1 for users in by_ref.values())
    names = [g["fields"]["NAME"] for g in world.b24.knobs.groups()]
    assert len(names) == len(set(names)), "a group was created twice"
    with world.store.sessions() as session:
        linked = set(session.scalars(select(IdentityLink.source_ref).where(IdentityLink.kind == "person")))
        statuses = set(session.scalars(select(SyncRun.status)))
    assert linked == set(by_ref)
    assert statuses == {"committed"}
    again = await run.full(ctx)
    assert again.plan.operations == []
