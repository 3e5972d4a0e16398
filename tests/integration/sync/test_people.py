"""Client managers become moderators of exactly their sites; people who never logged in get reminders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from config.settings import Settings
from connectors.messaging import build_messaging
from sandbox.server import free_port
from store.db import utcnow
from store.models import IdentityLink, Invitation
from sync import invitations, managers, run
from sync.run import SyncContext
from tests.integration.sync.conftest import World


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def site_groups(world: World) -> dict[str, int]:
    with world.store.sessions() as session:
        rows = session.execute(
            select(IdentityLink.source_ref, IdentityLink.b24_id).where(IdentityLink.kind == "department")
        ).all()
    return {ref: int(b24_id) for ref, b24_id in rows}


async def test_manager_is_moderator_of_exactly_the_assigned_sites(world: World, ctx: SyncContext) -> None:
    await run.full(ctx)
    sites = sorted(site_groups(world))[:2]
    with world.store.sessions.begin() as session:
        assert managers.add(session, "Boss@Client.ru", sites, "timesheet_approver", "Ольга Петрова") == 2
    counts = await managers.apply(ctx.b24, world.store.sessions)
    assert counts["invited"] == 1 and counts["moderator_of"] == 2
    boss = next(u for u in world.b24.knobs.users() if u["fields"].get("EMAIL") == "boss@client.ru")
    groups = {g["id"]: g for g in world.b24.knobs.groups()}
    for site in sites:
        assert groups[site_groups(world)[site]]["members"].get(str(boss["id"])) == "E"

    with world.store.sessions.begin() as session:
        assert managers.remove(session, "boss@client.ru", [sites[0]]) == 1
    await managers.apply(ctx.b24, world.store.sessions)
    groups = {g["id"]: g for g in world.b24.knobs.groups()}
    assert str(boss["id"]) not in groups[site_groups(world)[sites[0]]]["members"]
    assert groups[site_groups(world)[sites[1]]]["members"].get(str(boss["id"])) == "E"


def test_manager_input_is_checked(world: World) -> None:
    with world.store.sessions.begin() as session, pytest.raises(managers.ManagerError, match="unknown site"):
        managers.add(session, "boss@client.ru", ["no-such-site"], "viewer")
    with world.store.sessions.begin() as session, pytest.raises(managers.ManagerError, match="malformed"):
        managers.add(session, "boss@", ["x"], "viewer")


async def test_reminders_go_to_those_who_never_logged_in(
    world: World, ctx: SyncContext, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    report = await run.full(ctx)
    created = report.plan.count()["create_user"]
    with world.store.sessions() as session:
        first = session.scalar(
            select(func.count()).select_from(Invitation).where(Invitation.channel == "bitrix24")
        )
    assert first == created, "user.add's own invitation is not recorded"

    logged_in = next(u for u in world.b24.knobs.users() if u["fields"].get("XML_ID"))
    world.b24.knobs.accept(logged_in["id"])
    messaging = build_messaging(
        Settings(messaging={"smtp": {"host": "127.0.0.1", "port": port, "sender": "hr@provider.ru"}})
    )
    try:
        nothing = await invitations.invite_due(
            ctx.b24, messaging, world.store.sessions, "email", "http://portal/", [1, 3, 7], 4
        )
        assert nothing["sent"] == 0
        later = utcnow() + timedelta(days=1, minutes=1)
        sent = await invitations.invite_due(
            ctx.b24, messaging, world.store.sessions, "email", "http://portal/", [1, 3, 7], 4, now=later
        )
    finally:
        await messaging.close()
    assert sent["sent"] == created - 1 and sent["already_logged_in"] == 1
    assert len(inbox.messages) == created - 1
    message = message_from_bytes(inbox.messages[0].content)
    assert "Напоминание" in str(make_header(decode_header(message["Subject"])))
    again = await invitations.invite_due(
        ctx.b24,
        build_messaging(Settings()),
        world.store.sessions,
        "email",
        "http://portal/",
        [1, 3, 7],
        4,
        now=later,
    )
    assert again["candidates"] == 0, "a reminder was scheduled twice for the same step"
