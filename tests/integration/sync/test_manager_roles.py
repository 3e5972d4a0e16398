"""The workgroup role a client manager gets follows the manager's role through the mapping, and moves
when the role changes (default: timesheet approver → moderator E; order submitter, viewer → member K)."""

from __future__ import annotations

import pytest
import yaml

from mappings import DEFAULT_MAPPING, MappingError, compile_mapping, load_mapping
from sync import managers, run
from sync.run import SyncContext
from tests.integration.sync.conftest import World
from tests.integration.sync.test_people import site_groups


def _role_in(world: World, site: str, email: str) -> str | None:
    user = next(u for u in world.b24.knobs.users() if u["fields"].get("EMAIL") == email)
    group = next(g for g in world.b24.knobs.groups() if g["id"] == site_groups(world)[site])
    role: str | None = group["members"].get(str(user["id"]))
    return role


@pytest.mark.parametrize(
    ("role", "group_role", "count"),
    [
        ("timesheet_approver", "E", "moderator_of"),
        ("order_submitter", "K", "member_of"),
        ("viewer", "K", "member_of"),
    ],
)
async def test_managers_add_gives_the_mapped_group_role(
    world: World, ctx: SyncContext, role: str, group_role: str, count: str
) -> None:
    await run.full(ctx)
    site = sorted(site_groups(world))[0]
    with world.store.sessions.begin() as session:
        managers.add(session, "chief@client.ru", [site], role)
    counts = await managers.apply(ctx.b24, world.store.sessions, ctx.mapping)
    assert counts[count] == 1
    assert _role_in(world, site, "chief@client.ru") == group_role


async def test_a_role_change_moves_the_group_role(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    site = sorted(site_groups(world))[0]
    with world.store.sessions.begin() as session:
        managers.add(session, "chief@client.ru", [site], "timesheet_approver")
    await managers.apply(ctx.b24, world.store.sessions, ctx.mapping)
    assert _role_in(world, site, "chief@client.ru") == "E"

    with world.store.sessions.begin() as session:
        managers.add(session, "chief@client.ru", [site], "viewer")
    await managers.apply(ctx.b24, world.store.sessions, ctx.mapping)
    assert _role_in(world, site, "chief@client.ru") == "K"


def test_the_mapping_can_change_a_roles_group_role() -> None:
    default = load_mapping()
    assert [default.manager_group_role(r) for r in managers.ROLES] == ["E", "K", "K"]
    document = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    document["managers"]["roles"]["viewer"] = "E"
    assert compile_mapping(document).manager_group_role("viewer") == "E"
    document["managers"]["roles"]["viewer"] = "A"  # the owner role is never given
    with pytest.raises(MappingError):
        compile_mapping(document)
