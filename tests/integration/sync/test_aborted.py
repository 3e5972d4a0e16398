"""A run stopped because Bitrix24 refused the bridge itself ends `aborted`, and the next sync resumes it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from connectors.bitrix24.errors import Resolution, api_error
from connectors.bitrix24.port import Bitrix24Port, Call, CallOutcome
from core.errors import Action
from store.models import SyncRun
from sync import run
from sync.apply import RunAborted
from sync.model import RunStatus
from sync.run import SyncContext
from tests.integration.sync.conftest import World

SCOPE_MISSING = Resolution(Action.FAIL_CONFIG, "the webhook lacks a Bitrix24 scope this call needs")


class ScopeLostPort:
    """The real gateway for reads; every write of a batch refused as if the webhook lost its scope."""

    def __init__(self, inner: Bitrix24Port) -> None:
        self.inner = inner

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.inner.call(method, params)

    async def batch(self, calls: Sequence[Call], *, halt: bool = False) -> list[CallOutcome]:
        error = api_error(SCOPE_MISSING, code="insufficient_scope", status=401, method="batch")
        return [CallOutcome(c.label, error=error) for c in calls]

    def list_all(
        self, method: str, params: Mapping[str, Any] | None = None, *, id_key: str = "ID"
    ) -> AsyncIterator[list[dict[str, Any]]]:
        return self.inner.list_all(method, params, id_key=id_key)

    async def close(self) -> None:
        await self.inner.close()


async def test_an_aborted_run_ends_aborted_and_is_resumed(world: World, ctx: SyncContext) -> None:
    real = ctx.b24
    ctx.b24 = ScopeLostPort(real)
    with pytest.raises(RunAborted):
        await run.full(ctx)
    with world.store.sessions() as session:
        aborted = session.scalars(select(SyncRun)).one()
        assert aborted.status == RunStatus.ABORTED and aborted.finished_at is not None

    ctx.b24 = real  # the operator fixed the webhook
    report = await run.full(ctx)
    assert report.resumed == [aborted.id]
    with world.store.sessions() as session:
        statuses = {r.id: r.status for r in session.scalars(select(SyncRun))}
    assert statuses[aborted.id] == RunStatus.COMMITTED
    assert set(statuses.values()) == {"committed"}
    assert world.users_by_xml_id() and max(len(v) for v in world.users_by_xml_id().values()) == 1
