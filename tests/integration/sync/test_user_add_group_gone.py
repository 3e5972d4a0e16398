"""user.add into a group that no longer exists: the portal registers and invites the user, then fails on
the join request (Rest\\Api\\User::userAdd; sandbox/bitrix24/methods/users.py). The mirror must adopt that
user by XML_ID — never invite a second account, never park the person."""

from __future__ import annotations

from sqlalchemy import select

from store.models import IdentityLink, QuarantineRecord
from sync import run
from sync.run import SyncContext
from tests.integration.sync.conftest import World


async def test_new_hire_whose_group_was_deleted_gets_one_account(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    with world.store.sessions() as session:
        dept_ref, group_id = session.execute(
            select(IdentityLink.source_ref, IdentityLink.b24_id).where(IdentityLink.kind == "department")
        ).first() or (None, None)
    assert dept_ref and group_id
    hired = world.onec.knobs.hire(
        lastName="Орлова", firstName="Вера", emails=["vera.orlova@example.org"], deptRef=dept_ref
    )
    deleted = world.b24.knobs.http.post(
        world.b24.webhook_url.replace(world.b24.base_url, "") + "sonet_group.delete.json",
        json={"GROUP_ID": int(group_id)},
    )
    assert deleted.json()["result"] is True
    await run.incremental(ctx)
    await run.incremental(ctx)
    person = hired["personRef"]
    accounts = world.users_by_xml_id().get(person, [])
    assert len(accounts) == 1, f"expected one Bitrix24 account, found {len(accounts)}"
    # the portal did meet the missing group: the one invitation names it
    invited = [i for i in world.b24.knobs.invitations() if i["email"] == accounts[0]["EMAIL"]]
    assert len(invited) == 1 and int(group_id) in invited[0]["group_ids"]
    with world.store.sessions() as session:
        link = session.scalar(
            select(IdentityLink.b24_id).where(
                IdentityLink.kind == "person", IdentityLink.source_ref == person
            )
        )
        parked = session.scalar(select(QuarantineRecord.id).where(QuarantineRecord.source_ref == person))
    assert link is not None and parked is None
