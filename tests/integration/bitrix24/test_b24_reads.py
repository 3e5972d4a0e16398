"""Full list reads travel 50 pages to a ``batch`` request (connectors/bitrix24/reads.py), on the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.bitrix24.gateway import Bitrix24Gateway
from connectors.bitrix24.port import Call
from sandbox.bitrix24.testing import RunningSandbox
from tests.integration.bitrix24.conftest import requests_for

MakeGateway = Callable[..., Bitrix24Gateway]


def seed_users(sb: RunningSandbox, count: int) -> None:
    for i in range(count):
        sb.sandbox.portal.add_user({"EMAIL": f"r{i}@example.test", "NAME": f"R{i}", "UF_DEPARTMENT": [1]})


async def read_all(gateway: Bitrix24Gateway, method: str, params: dict[str, Any] | None = None) -> list[int]:
    return [int(row["ID"]) async for page in gateway.list_all(method, params) for row in page]


async def test_users_beyond_one_batch_take_one_request_per_50_pages(
    sb: RunningSandbox, make_gateway: MakeGateway
) -> None:
    seed_users(sb, 2600)  # with the portal's admin: 2,601 users, 53 pages
    async with make_gateway(sb.webhook_url) as gateway:
        ids = await read_all(gateway, "user.get", {"ADMIN_MODE": True})
    assert len(ids) == len(set(ids)) == 2601 and ids == sorted(ids)
    assert [int(str(b["commands"])) for b in requests_for(sb, "batch")] == [50, 50]
    assert not requests_for(sb, "user.get")


async def test_a_list_ending_on_a_full_batch_costs_one_more_request_for_the_empty_page(
    sb: RunningSandbox, make_gateway: MakeGateway
) -> None:
    seed_users(sb, 2499)  # 2,500 users: 50 full pages, then the empty one that proves the end
    async with make_gateway(sb.webhook_url) as gateway:
        ids = await read_all(gateway, "user.get", {"ADMIN_MODE": True})
    assert len(set(ids)) == 2500
    assert len(requests_for(sb, "batch")) == 2


async def test_departments_are_read_by_offsets_in_one_request(
    sb: RunningSandbox, make_gateway: MakeGateway
) -> None:
    async with make_gateway(sb.webhook_url) as gateway:
        made = await gateway.batch(
            [Call("department.add", {"NAME": f"Crew {i}", "PARENT": 1}) for i in range(120)]
        )
        assert all(o.ok for o in made)
        writes = len(requests_for(sb, "batch"))
        ids = await read_all(gateway, "department.get")
    assert len(ids) == len(set(ids)) == 121 and ids == sorted(ids)
    assert len(requests_for(sb, "batch")) == writes + 1
