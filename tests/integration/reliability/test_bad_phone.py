"""A bad phone does not block the account (issue 8 item 7): the person is mirrored without the phone,
a data-quality warning shows in `status`, and only SMS invitations leave them out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from config.settings import Settings
from connectors.messaging import build_messaging
from sandbox.server import serve_in_thread
from store.models import IdentityLink, QuarantineRecord
from sync import invitations, run
from sync.diff import WARNING_KIND
from sync.report import status
from sync.run import SyncContext
from tests.integration.cli.test_cli import run_cli
from tests.integration.sync.conftest import World

LANDLINE = "+7 495 123-45-67"  # a Moscow fixed line: valid, but no SMS can reach it


@pytest.fixture
def sms_gateway() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback JSON SMS gateway (the generic HTTP provider) recording what it was asked to send."""
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/gateway")
    async def gateway(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"message_id": f"m{len(received)}"}, status_code=201)

    with serve_in_thread(app) as base_url:
        yield f"{base_url}/gateway", received


def open_warnings(world: World) -> dict[str, str]:
    with world.store.sessions() as session:
        rows = session.execute(
            select(QuarantineRecord.source_ref, QuarantineRecord.reason_code).where(
                QuarantineRecord.kind == WARNING_KIND, QuarantineRecord.resolved_at.is_(None)
            )
        )
        return {ref: code for ref, code in rows}


def linked_persons(world: World) -> set[str]:
    with world.store.sessions() as session:
        query = select(IdentityLink.source_ref).where(IdentityLink.kind == "person")
        return set(session.scalars(query))


async def test_landline_is_left_out_and_warned_not_quarantined(
    world: World, ctx: SyncContext, sms_gateway: tuple[str, list[dict[str, Any]]]
) -> None:
    await run.full(ctx)
    ref = sorted(world.users_by_xml_id())[0]
    world.onec.knobs.edit_person(ref, phones=[{"kind": "Mobile", "value": LANDLINE}])
    await run.incremental(ctx)

    [user] = world.users_by_xml_id()[ref]
    assert user.get("ACTIVE") in (True, "Y") and user.get("EMAIL"), "the person was not kept mirrored"
    assert not user.get("PERSONAL_MOBILE"), "the landline reached Bitrix24 as a mobile number"
    assert open_warnings(world).get(ref) == "unusable_phone"
    with world.store.sessions() as session:
        report = status(session)
    assert report.warnings.get("unusable_phone", 0) >= 1
    assert "unusable_phone" not in report.quarantine
    shown = run_cli("status", env={"EXTRANET_BRIDGE_DATABASE__URL": world.settings.database.url})
    assert shown.returncode == 0 and "data-quality warnings" in shown.stdout
    assert "unusable_phone 1" in shown.stdout, shown.stdout  # the human line: code and count

    gateway_url, received = sms_gateway
    settings = Settings(messaging={"sms": {"provider": "http", "url": gateway_url, "api_key": "k"}})
    messaging = build_messaging(settings)
    try:
        sms = await invitations.invite_sites(
            ctx.b24, messaging, world.store.sessions, [], "sms", "http://portal/", never_logged_in_only=False
        )
    finally:
        await messaging.close()
    assert sms["no_phone"] >= 1 and sms["failed"] == 0
    assert sms["sent"] == len(received) == sms["candidates"] - sms["no_phone"]
    assert LANDLINE not in {m["to"] for m in received}

    world.onec.knobs.edit_person(ref, phones=[{"kind": "Mobile", "value": "+7 916 123-45-67"}])
    await run.incremental(ctx)
    assert world.users_by_xml_id()[ref][0].get("PERSONAL_MOBILE") == "+79161234567"
    assert ref not in open_warnings(world), "the warning outlived the fix in 1C"


async def test_generated_bad_phones_are_mirrored_with_a_warning(world: World, ctx: SyncContext) -> None:
    picked = world.onec.knobs.pick("Person", n=3)
    for person in picked:
        world.onec.knobs.edit_person(person["ref"], phones=["12345"], emails=[f"{person['ref']}@example.org"])
    await run.full(ctx)
    warned = open_warnings(world)
    hired = {p["ref"] for p in picked} & linked_persons(world)
    assert hired, "none of the picked persons is employed; pick more"
    assert hired <= set(warned)
    mirrored = world.users_by_xml_id()
    for ref in set(warned) & linked_persons(world):  # the others are not employed today
        assert [u.get("PERSONAL_MOBILE") or "" for u in mirrored[ref]] == [""]
    with world.store.sessions() as session:
        parked = set(
            session.scalars(
                select(QuarantineRecord.source_ref).where(
                    QuarantineRecord.kind == "person", QuarantineRecord.resolved_at.is_(None)
                )
            )
        )
    assert not parked & set(warned), "a person with a bad phone is still quarantined"
