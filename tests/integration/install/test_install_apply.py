"""``apply`` (processes/portal_setup.py) on a portal that loses answers: a write whose answer was lost
is looked up (the portal is read again) before anything is sent again, so nothing is created twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.bitrix24 import MemoryBudget
from connectors.bitrix24.auth import MemoryVault, OAuthTokens, TokenPair
from connectors.bitrix24.gateway import Bitrix24Gateway, RetryPolicy
from processes import install
from processes.catalog import default_catalog
from processes.portal_setup import FIELD_TYPES, apply, read_portal
from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.procs_lists_model import state as lists_state
from sandbox.bitrix24.testing import RunningSandbox, run_sandbox

PUBLIC = "http://127.0.0.1:9"
FAST = RetryPolicy(attempts=8, unmapped_attempts=2, initial_seconds=0.001, max_seconds=0.01)


@pytest.fixture
def b24() -> Iterator[RunningSandbox]:
    with run_sandbox(rate=1000, burst=1000) as running:
        yield running


def _gateway(b24: RunningSandbox) -> Bitrix24Gateway:
    auth: dict[str, Any] = b24.knobs.install(f"{PUBLIC}/bitrix24/install")["auth"]
    app = b24.knobs.app()
    pair = TokenPair(auth["access_token"], auth["refresh_token"], auth["member_id"], auth["domain"])
    tokens = OAuthTokens(
        MemoryVault(pair),
        oauth_server=b24.base_url,
        client_id=app["client_id"],
        client_secret=app["client_secret"],
    )
    return Bitrix24Gateway(
        b24.base_url + "/rest/", budget=MemoryBudget(1000, 1000), tokens=tokens, retry=FAST, timeout_seconds=5
    )


async def test_lost_answers_create_nothing_twice(b24: RunningSandbox) -> None:
    gateway = _gateway(b24)
    want = install.desired(default_catalog(), b24.knobs.app()["client_id"], PUBLIC)
    b24.knobs.faults(reset=0.15, error_500=0.1, seed=11)
    try:
        done = await apply(gateway, lambda have: install.plan_install(want, have, FIELD_TYPES))
        b24.knobs.faults(reset=0.0, error_500=0.0)
        assert install.plan_install(want, await read_portal(gateway), FIELD_TYPES) == []
    finally:
        await gateway.close()
    lost = [e for e in b24.knobs.log() if e.get("fault") in ("reset", "error_500")]
    assert lost, "the fault profile injected nothing"
    portal = b24.sandbox.portal
    templates = list(engine.state(portal).templates.values())
    assert len(templates) == len(want.templates) == len({t.document_type[2] for t in templates})
    assert len(lists_state(portal).iblocks) == len(want.lists)
    assert len(portal.bindings) == len(want.bindings)
    assert sum(isinstance(op, install.AddTemplate) for op in done.applied) == len(want.templates)


async def test_drift_on_the_portal_is_put_back(b24: RunningSandbox) -> None:
    gateway = _gateway(b24)
    want = install.desired(default_catalog(), b24.knobs.app()["client_id"], PUBLIC)

    def planner(have: install.PortalState) -> list[install.Operation]:
        return install.plan_install(want, have, FIELD_TYPES)

    hook = b24.knobs.webhook(scopes=["lists"])
    try:
        await apply(gateway, planner)
        leave = (await read_portal(gateway)).lists["eb_leave"]
        date_from = leave.fields["DATE_FROM"]
        async with httpx.AsyncClient() as http:  # an admin renames the list and a field, drops another
            renamed = {"NAME": "Начало", "TYPE": date_from.type, "SORT": 7}
            for method, body in (
                ("lists.field.update", {"FIELD_ID": date_from.field_id, "FIELDS": renamed}),
                ("lists.field.delete", {"FIELD_ID": leave.fields["COMMENT"].field_id}),
                ("lists.update", {"FIELDS": {"NAME": "Отпуска"}}),
            ):
                answer = await http.post(
                    f"{hook}{method}.json",
                    json={"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": leave.id, **body},
                )
                assert answer.status_code == 200, answer.text
        ops = planner(await read_portal(gateway))
        assert sorted(install.describe(op)[:2] for op in ops) == [
            ("add field", "eb_leave.COMMENT"),
            ("update field", "eb_leave.DATE_FROM"),
            ("update list", "eb_leave"),
        ]
        await apply(gateway, planner)
        fixed = (await read_portal(gateway)).lists["eb_leave"]
        assert (fixed.name, fixed.description) == (leave.name, leave.description)
        assert (
            fixed.fields["DATE_FROM"].name == date_from.name
            and fixed.fields["DATE_FROM"].sort == date_from.sort
        )
        assert planner(await read_portal(gateway)) == []
    finally:
        await gateway.close()
