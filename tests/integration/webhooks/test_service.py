"""The HTTP service in-process (ASGI transport): install, events, token checks, body limit, admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from config.settings import Settings
from config.wiring import Store
from store.models import AppToken, InboxMessage
from webhooks.app import create_app
from webhooks.forms import parse_php_form

ADMIN = "admin-secret-token"
INSTALL = {
    "event": "ONAPPINSTALL",
    "auth[access_token]": "acc-1",
    "auth[refresh_token]": "ref-1",
    "auth[application_token]": "apptoken-1",
    "auth[member_id]": "member-1",
    "auth[domain]": "acme.bitrix24.ru",
    "auth[expires_in]": "3600",
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def client(store: Store, db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database={"url": db_url}, server={"admin_token": ADMIN, "max_body_bytes": 4096})
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as http:
        yield http


def user_added(token: str, user_id: int = 55, ts: str = "1700000000") -> str:
    return urlencode(
        {"event": "ONUSERADD", "data[ID]": str(user_id), "ts": ts, "auth[application_token]": token}
    )


def test_php_bracket_forms_decode() -> None:
    assert parse_php_form("a[b][c]=1&a[d][]=2&a[d][]=3&x=") == {
        "a": {"b": {"c": "1"}, "d": ["2", "3"]},
        "x": "",
    }


async def test_install_then_events_are_checked_and_deduplicated(
    client: httpx.AsyncClient, store: Store
) -> None:
    assert (
        await client.post("/bitrix24/events", content=user_added("apptoken-1"), headers=FORM)
    ).status_code == 401
    installed = await client.post("/bitrix24/install", content=urlencode(INSTALL), headers=FORM)
    assert installed.status_code == 200
    with store.sessions() as session:
        row = session.scalar(select(AppToken))
        assert row is not None and row.application_token == "apptoken-1" and row.refresh_token == "ref-1"

    wrong = await client.post("/bitrix24/events", content=user_added("forged"), headers=FORM)
    assert wrong.status_code == 401
    first = await client.post("/bitrix24/events", content=user_added("apptoken-1"), headers=FORM)
    again = await client.post("/bitrix24/events", content=user_added("apptoken-1"), headers=FORM)
    assert first.json() == {"received": True, "duplicate": False}
    assert again.json() == {"received": True, "duplicate": True}
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxMessage)) == 1

    unknown = urlencode({"event": "ONCRMDEALADD", "auth[application_token]": "apptoken-1"})
    response = await client.post("/bitrix24/events", content=unknown, headers=FORM)
    assert response.status_code == 422 and "ONCRMDEALADD" in response.text


async def test_install_from_another_portal_is_refused(client: httpx.AsyncClient) -> None:
    await client.post("/bitrix24/install", content=urlencode(INSTALL), headers=FORM)
    other = {**INSTALL, "auth[member_id]": "member-2"}
    assert (await client.post("/bitrix24/install", content=urlencode(other), headers=FORM)).status_code == 403
    broken = await client.post("/bitrix24/install", content="event=ONAPPINSTALL", headers=FORM)
    assert broken.status_code == 400


async def test_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/bitrix24/events", content="x=" + "a" * 10_000, headers=FORM)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


async def test_admin_api_needs_the_token_and_validates_input(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/status")).status_code == 401
    bad = await client.get("/admin/status", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    auth = {"Authorization": f"Bearer {ADMIN}"}
    ok = await client.get("/admin/status", headers=auth)
    assert ok.status_code == 200 and ok.json()["due_pending"] == 0
    refused = await client.post("/admin/managers", json={"email": "boss@", "sites": ["x"]}, headers=auth)
    assert refused.status_code == 422
    unknown_site = await client.post(
        "/admin/managers", json={"email": "boss@client.ru", "sites": ["nowhere"]}, headers=auth
    )
    assert unknown_site.status_code == 422 and "unknown site" in unknown_site.json()["detail"]
