"""Issue 13, the REST-activity handler: the documented call-out (bitrix24-rest.md §5.12) is stored in the
inbox before the 200, once per event_token; a foreign token is a 403 and a malformed body a 400 naming
the field; nothing is stored for either."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from config.wiring import Store
from sandbox.bitrix24.params import encode_form
from sandbox.bitrix24.testing import RunningSandbox
from store.models import InboxMessage
from tests.integration.webhooks.harness import bridge_settings, serve_portal
from webhooks.app import create_app
from webhooks.handlers import ACTIVITY_SOURCE, on_callout_stored

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TOKEN = "67a2ffdb2c57a3.35276854|A_check|hsyUws1j4XiwqPqN45eH66CcQtEvpUIP." + "47dd5d888e8e549d" * 4


@pytest.fixture(scope="module")
def running_portal() -> Iterator[RunningSandbox]:
    with serve_portal() as running:
        yield running


@pytest.fixture
async def client(
    db_url: str, store: Store, running_portal: RunningSandbox
) -> AsyncIterator[httpx.AsyncClient]:
    running_portal.knobs.reset()
    app = create_app(bridge_settings(db_url, running_portal), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as http:
        auth = running_portal.knobs.install()["auth"]
        body = encode_form({"event": "ONAPPINSTALL", "auth": auth})
        assert (await http.post("/bitrix24/install", content=body, headers=FORM)).status_code == 200
        http.headers["X-App-Token"] = auth["application_token"]
        yield http


def callout(application_token: str, **changes: Any) -> str:
    body: dict[str, Any] = {
        "workflow_id": "67a2ffdb2c57a3.35276854",
        "code": "eb_resolve_approvers",
        "document_id": ["lists", "BizprocDocument", "6999"],
        "document_type": ["lists", "BizprocDocument", "iblock_171"],
        "event_token": TOKEN,
        "properties": {"RequestKind": "leave", "Empty": ""},
        "use_subscription": "Y",
        "timeout_duration": "0",
        "ts": "1738735796",
        "auth": {
            "access_token": "s6p6eclrvim6da22ft9ch94ekreb52lv", "expires": "1738739396", "expires_in": "3600",
            "scope": "bizproc,lists,user", "domain": "example.bitrix24.com", "status": "L",
            "server_endpoint": "https://oauth.bitrix.info/rest/", "user_id": "1",
            "client_endpoint": "https://example.bitrix24.com/rest/", "refresh_token": "4s386p3q0tr8dy89xvmt9",
            "application_token": application_token,
        },
    }  # fmt: skip
    body.update(changes)
    return encode_form({k: v for k, v in body.items() if v is not None})


def stored(store: Store) -> list[InboxMessage]:
    with store.sessions() as session:
        rows = list(session.scalars(select(InboxMessage).where(InboxMessage.source == ACTIVITY_SOURCE)))
        session.expunge_all()
        return rows


async def test_a_call_out_is_stored_once_without_its_oauth_tokens(
    client: httpx.AsyncClient, store: Store
) -> None:
    body = callout(client.headers["X-App-Token"])
    first = await client.post("/bitrix24/activity", content=body, headers=FORM)
    again = await client.post("/bitrix24/activity", content=body, headers=FORM)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    assert again.json() == {"received": True, "duplicate": True}
    [row] = stored(store)
    assert row.kind == "eb_resolve_approvers" and row.processed_at is None
    assert row.payload["document_id"] == ["lists", "BizprocDocument", "6999"]
    assert row.payload["properties"] == {"RequestKind": "leave", "Empty": ""}
    assert row.payload["event_token"] == TOKEN
    text = str(row.payload)
    assert (
        "s6p6eclrvim6" not in text and "4s386p3q0" not in text and client.headers["X-App-Token"] not in text
    )


@pytest.mark.parametrize(
    ("changes", "status", "error", "names"),
    [
        ({"code": "eb_unknown"}, 400, "bad_body", "code"),
        ({"event_token": "not-a-token"}, 400, "bad_body", "event_token"),
        ({"document_id": ["lists", "BizprocDocument"]}, 400, "bad_body", "document_id"),
        ({"use_subscription": "maybe"}, 400, "bad_body", "use_subscription"),
        ({"workflow_id": None}, 400, "bad_body", "workflow_id"),
        ({"extra": "x"}, 400, "bad_body", "extra"),
        ({"properties": {"a b": "x"}}, 400, "bad_body", "properties"),
    ],
)
async def test_a_malformed_call_out_is_a_400_naming_the_field(
    client: httpx.AsyncClient, store: Store, changes: dict[str, Any], status: int, error: str, names: str
) -> None:
    body = callout(client.headers["X-App-Token"], **changes)
    answer = await client.post("/bitrix24/activity", content=body, headers=FORM)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error and names in answer.json()["detail"]
    assert stored(store) == []


async def test_a_foreign_application_token_is_a_403(client: httpx.AsyncClient, store: Store) -> None:
    answer = await client.post("/bitrix24/activity", content=callout("0" * 32), headers=FORM)
    assert answer.status_code == 403 and answer.json()["error"] == "unknown_application_token"
    missing = await client.post(
        "/bitrix24/activity", content=b"workflow_id=1&code=eb_submit_to_1c", headers=FORM
    )
    assert missing.status_code == 400
    bad_bytes = await client.post("/bitrix24/activity", content=b"\xff\xfe", headers=FORM)
    assert bad_bytes.status_code == 400
    assert stored(store) == []


async def test_a_stored_call_out_wakes_the_dispatcher_without_holding_the_answer(
    client: httpx.AsyncClient, store: Store
) -> None:
    """The work starts once the inbox row is committed, runs in the background (the 200 does not wait for
    it), and a redelivered call-out wakes nothing."""
    release, seen = asyncio.Event(), []

    async def work() -> None:
        seen.append([m.processed_at for m in stored(store)])  # what the dispatcher would claim
        await release.wait()

    waker = on_callout_stored(store.sessions, work)
    body = callout(client.headers["X-App-Token"])
    answer = await client.post("/bitrix24/activity", content=body, headers=FORM)
    assert answer.status_code == 200 and answer.json()["duplicate"] is False
    for _ in range(200):  # the background task's first step (bounded; no timing is asserted)
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == [[None]], "the work did not see the committed, unprocessed call-out"
    assert waker.runs == 0, "the answer came back only after the work finished"
    again = await client.post("/bitrix24/activity", content=body, headers=FORM)
    assert again.json()["duplicate"] is True
    release.set()
    await waker.idle()
    assert waker.runs == 1 and len(seen) == 1


async def test_a_store_that_fails_is_a_503_and_nothing_is_answered_as_stored(
    client: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The inbox cannot take the call-out (here its table is gone): 503 with the reason, no traceback,
    no 200 — Bitrix24's call-out is not acknowledged, and the reconciliation finds the workflow later."""
    store.engine.dispose()
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE inbox RENAME TO inbox_away")
    try:
        answer = await client.post(
            "/bitrix24/activity", content=callout(client.headers["X-App-Token"]), headers=FORM
        )
    finally:
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE inbox_away RENAME TO inbox")
    assert answer.status_code == 503, answer.text
    assert answer.json() == {
        "error": "store_unavailable",
        "detail": "the state store cannot take the message now",
    }
    assert "Traceback" not in caplog.text and "inbox_away" not in caplog.text
    assert stored(store) == []
