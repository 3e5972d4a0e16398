"""The HTTP service in-process (ASGI transport): install, events, token checks, body limit, admin API."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from config.wiring import Store
from sandbox.bitrix24.testing import RunningSandbox
from store.models import AppToken, InboxMessage
from tests.integration.webhooks.conftest import ADMIN, FORM, ServedBridge, install_body
from webhooks.forms import parse_php_form


def genuine_install(portal: RunningSandbox) -> tuple[str, dict[str, str]]:
    """An ONAPPINSTALL body with the tokens the portal issued, and that auth block."""
    auth = portal.knobs.install()["auth"]
    return install_body(auth), auth


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
    client: httpx.AsyncClient, store: Store, portal: RunningSandbox
) -> None:
    body, auth = genuine_install(portal)
    token = auth["application_token"]
    assert (await client.post("/bitrix24/events", content=user_added(token), headers=FORM)).status_code == 401
    installed = await client.post("/bitrix24/install", content=body, headers=FORM)
    assert installed.status_code == 200
    with store.sessions() as session:
        row = session.scalar(select(AppToken))
        assert row is not None and row.application_token == token
        assert row.refresh_token == auth["refresh_token"]

    wrong = await client.post("/bitrix24/events", content=user_added("forged"), headers=FORM)
    assert wrong.status_code == 401
    first = await client.post("/bitrix24/events", content=user_added(token), headers=FORM)
    again = await client.post("/bitrix24/events", content=user_added(token), headers=FORM)
    assert first.json() == {"received": True, "duplicate": False}
    assert again.json() == {"received": True, "duplicate": True}
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxMessage)) == 1

    unknown = urlencode({"event": "ONCRMDEALADD", "auth[application_token]": token})
    response = await client.post("/bitrix24/events", content=unknown, headers=FORM)
    assert response.status_code == 422 and "ONCRMDEALADD" in response.text


async def test_install_from_another_portal_is_refused(
    client: httpx.AsyncClient, portal: RunningSandbox
) -> None:
    body, auth = genuine_install(portal)
    assert (await client.post("/bitrix24/install", content=body, headers=FORM)).status_code == 200
    other = install_body({**auth, "member_id": "member-2"})
    assert (await client.post("/bitrix24/install", content=other, headers=FORM)).status_code == 403
    broken = await client.post("/bitrix24/install", content="event=ONAPPINSTALL", headers=FORM)
    assert broken.status_code == 400


async def test_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/bitrix24/events", content="x=" + "a" * 10_000, headers=FORM)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted while it arrives
        yield b"event=ONUSERADD&data[NOTE]="
        for _ in range(10):
            yield b"a" * 1000

    chunked = await client.post("/bitrix24/events", content=streamed(), headers=FORM)
    assert chunked.status_code == 413 and chunked.json()["error"] == "body_too_large"
    install = await client.post("/bitrix24/install", content="x=" + "a" * 10_000, headers=FORM)
    assert install.status_code == 413


def test_a_body_longer_than_its_content_length_is_cut_at_it(served: ServedBridge) -> None:
    """The body limit trusts a declared Content-Length because the server frames the body by it (h11):
    what follows the declared bytes never reaches the app as body — here it is a second, malformed
    request, refused by the server. Over a real socket, since an in-process transport frames nothing."""
    address = urlsplit(served.url)
    head = (
        b"POST /bitrix24/events HTTP/1.1\r\nHost: bridge\r\n"
        + b"Content-Type: "
        + FORM["Content-Type"].encode()
    )
    request = head + b"\r\nContent-Length: 9\r\n\r\nevent=ONX" + b"a" * 20_000
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    first = answer.split(b"\r\n", 1)[0]
    assert first == b"HTTP/1.1 401 Unauthorized" and b'"not_installed"' in answer  # the 9 bytes, judged
    assert answer.count(b"HTTP/1.1 ") <= 2  # the rest: at most the server's own 400, then it hung up


async def test_admin_api_needs_the_token_and_validates_input(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/status")).status_code == 401
    bad = await client.get("/admin/status", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    schemeless = await client.get("/admin/status", headers={"Authorization": ADMIN})
    assert schemeless.status_code == 401
    assert (await client.get("/admin/openapi.json")).status_code == 401
    assert (await client.get("/admin/docs")).status_code == 401
    auth = {"Authorization": f"Bearer {ADMIN}"}
    ok = await client.get("/admin/status", headers=auth)
    assert ok.status_code == 200 and ok.json()["due_pending"] == 0
    refused = await client.post("/admin/managers", json={"email": "boss@", "sites": ["x"]}, headers=auth)
    assert refused.status_code == 422
    unknown_site = await client.post(
        "/admin/managers", json={"email": "boss@client.ru", "sites": ["nowhere"]}, headers=auth
    )
    assert unknown_site.status_code == 422 and "unknown site" in unknown_site.json()["detail"]
    document = await client.get("/admin/openapi.json", headers=auth)
    assert document.status_code == 200 and "/bitrix24/events" in document.json()["paths"]
    page = await client.get("/admin/docs", headers=auth)
    assert page.status_code == 200 and "/bitrix24/install" in page.text


async def test_a_store_error_in_any_route_is_a_503_without_its_sql(
    client: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A database error the code does not expect (here a table is gone) is a 503 naming the store, and the
    log line names the error's class only — its text would quote the SQL and its parameters."""
    store.engine.dispose()
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE process_instances RENAME TO process_instances_away")
    try:
        answer = await client.get("/admin/processes", headers={"Authorization": f"Bearer {ADMIN}"})
    finally:
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE process_instances_away RENAME TO process_instances")
    assert answer.status_code == 503, answer.text
    assert answer.json() == {"error": "store_unavailable", "detail": "the state store is unavailable now"}
    assert "process_instances_away" not in caplog.text and "Traceback" not in caplog.text
    [line] = [r for r in caplog.records if r.getMessage() == "store.error"]
    assert line.__dict__["error"] in ("OperationalError", "ProgrammingError")
