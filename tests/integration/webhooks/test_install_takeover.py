"""Issue 8 item 1: an install proves itself with the configured portal before anything is stored or replaced.

The attacker knows the member_id (every event carries it) and the portal's address, and may hold a genuine
token of a non-admin user or of another portal; none of that replaces the stored tokens, and the real
portal's events keep being accepted. Every refusal is logged without a token."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from config.wiring import Store
from sandbox.bitrix24.testing import RunningSandbox
from store.models import AppToken
from tests.integration.webhooks.conftest import FORM, bridge_settings, event_body, install_body
from tests.log_fields import record_text
from webhooks.app import create_app


def stored(store: Store) -> AppToken:
    with store.sessions() as session:
        row: AppToken | None = session.scalar(select(AppToken))
        assert row is not None
        session.expunge(row)
        return row


async def install(client: httpx.AsyncClient, auth: dict[str, Any], path: str = "/bitrix24/install") -> int:
    return (await client.post(path, content=install_body(auth), headers=FORM)).status_code


async def user_added(client: httpx.AsyncClient, token: str, user_id: int = 7) -> int:
    body = event_body("ONUSERADD", token, {"ID": user_id}, ts="1767225601")
    return (await client.post("/bitrix24/events", content=body, headers=FORM)).status_code


@pytest.fixture
async def installed(client: httpx.AsyncClient, portal: RunningSandbox) -> dict[str, Any]:
    auth: dict[str, Any] = portal.knobs.install()["auth"]
    assert await install(client, auth) == 200
    assert {"app.info", "profile"} <= {entry["method"] for entry in portal.knobs.log()}, "not verified"
    return auth


def forged(real: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The real install's public facts (member_id, domain, endpoints) with the attacker's tokens."""
    return {
        **real,
        "access_token": secrets.token_hex(16),
        "refresh_token": secrets.token_hex(16),
        "application_token": "attacker" + secrets.token_hex(12),
        **changes,
    }


@pytest.mark.parametrize("path", ["/bitrix24/install", "/bitrix24/events"])
async def test_a_forged_install_replaces_nothing(
    client: httpx.AsyncClient,
    store: Store,
    installed: dict[str, Any],
    path: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = stored(store)
    attack = forged(installed)
    with caplog.at_level(logging.WARNING, logger="webhooks.portal"):
        assert await install(client, attack, path) == 403
        after = stored(store)
        assert (after.access_token, after.refresh_token, after.application_token) == (
            before.access_token,
            before.refresh_token,
            before.application_token,
        )
        assert await user_added(client, attack["application_token"]) == 401
        assert await user_added(client, installed["application_token"]) == 200
    refusals = [record_text(r) for r in caplog.records if "refused" in r.getMessage()]
    assert any("bitrix24.install.refused" in m for m in refusals), refusals
    assert any("bitrix24.event.refused" in m for m in refusals), refusals
    secrets_sent = (attack["access_token"], attack["application_token"], installed["application_token"])
    assert not any(s in m for m in refusals for s in secrets_sent)


async def test_a_non_admin_token_of_the_portal_is_not_an_install(
    client: httpx.AsyncClient, store: Store, installed: dict[str, Any], portal: RunningSandbox
) -> None:
    employee = portal.knobs.add_user({"NAME": "Eve", "EMAIL": "eve@example.test"})
    access, refresh = portal.sandbox.portal.issue_tokens(employee)
    before = stored(store).application_token
    assert await install(client, forged(installed, access_token=access, refresh_token=refresh)) == 403
    assert stored(store).application_token == before


async def test_a_token_of_another_application_is_not_an_install(
    db_url: str, store: Store, portal: RunningSandbox
) -> None:
    settings = bridge_settings(db_url, portal)
    settings.bitrix24.app.client_id = "local.another0000000000.00000000"
    app = create_app(settings, store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
        response = await client.post(
            "/bitrix24/install", content=install_body(portal.knobs.install()["auth"]), headers=FORM
        )
    assert response.status_code == 403 and "another application" in response.json()["detail"]
    with store.sessions() as session:
        assert session.scalar(select(AppToken)) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"client_endpoint": "https://evil.example/rest/"}, "client_endpoint"),
        ({"domain": "evil.example"}, "domain"),
        ({"member_id": "f" * 32}, "member_id"),
    ],
)
async def test_an_install_naming_another_portal_is_refused_before_any_call(
    client: httpx.AsyncClient,
    store: Store,
    installed: dict[str, Any],
    portal: RunningSandbox,
    change: dict[str, str],
    reason: str,
) -> None:
    calls_before = len(portal.knobs.log())
    response = await client.post(
        "/bitrix24/install", content=install_body({**installed, **change}), headers=FORM
    )
    assert response.status_code == 403 and reason in response.json()["detail"]
    assert response.json()["error"] == "foreign_portal"
    assert len(portal.knobs.log()) == calls_before, "the bridge called out for an install it could refuse"
    assert stored(store).application_token == installed["application_token"]


async def test_a_reinstall_by_the_portal_replaces_the_application_token(
    client: httpx.AsyncClient, store: Store, installed: dict[str, Any], portal: RunningSandbox
) -> None:
    again: dict[str, Any] = portal.knobs.install()["auth"]
    assert again["application_token"] != installed["application_token"]
    assert await install(client, again) == 200
    assert stored(store).application_token == again["application_token"]
    assert await user_added(client, installed["application_token"]) == 401
    assert await user_added(client, again["application_token"]) == 200


async def test_an_unreachable_or_unconfigured_portal_stores_nothing(
    db_url: str, store: Store, portal: RunningSandbox
) -> None:
    auth = portal.knobs.install()["auth"]
    unconfigured = create_app(bridge_settings(db_url, None), store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=unconfigured), base_url="http://b"
    ) as client:
        response = await client.post("/bitrix24/install", content=install_body(auth), headers=FORM)
        assert response.status_code == 503 and response.json()["error"] == "not_configured"
    portal.knobs.faults(error_503=1.0)
    configured = create_app(bridge_settings(db_url, portal), store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=configured), base_url="http://b"
    ) as client:
        response = await client.post("/bitrix24/install", content=install_body(auth), headers=FORM)
    portal.knobs.faults()
    assert response.status_code == 503 and response.json()["error"] == "portal_unreachable"
    with store.sessions() as session:
        assert session.scalar(select(AppToken)) is None
