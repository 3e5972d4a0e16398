"""Ways in: webhooks, the local app's OAuth tokens, the token server, app-only methods
(bitrix24-rest.md §1.1, §6.2, §8.3, §9.1; settings/oauth/auto-renewal.md; on-app-install.md)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.bitrix24.testing import Knobs, Rest, RunningSandbox, capture_server


def test_wrong_webhook_code_is_401_invalid_credentials(b24: RunningSandbox, http: httpx.Client) -> None:
    # b24pysdk tests/integration/errors/test_errors.py::test_error_bitrix_api_invalid_credentials
    response = http.post(f"{b24.base_url}/rest/1/wrongcode/user.current.json", json={})
    assert response.status_code == 401
    assert response.json() == {
        "error": "INVALID_CREDENTIALS",
        "error_description": "Invalid request credentials",
    }
    other_user = http.post(b24.webhook_url.replace("/rest/1/", "/rest/2/") + "user.current.json", json={})
    assert other_user.status_code == 401


def test_expired_webhook(b24: RunningSandbox, knobs: Knobs, http: httpx.Client) -> None:
    now = knobs.clock()["now"]
    url = knobs.http.post(
        "/_sandbox/webhooks", json={"user_id": 1, "scopes": ["user"], "expires_at": now + 60}
    ).json()["url"]
    assert http.post(url + "user.current.json", json={}).status_code == 200
    knobs.advance(61)
    response = http.post(url + "user.current.json", json={})
    assert response.status_code == 401 and response.json()["error"] == "expired_token"


def test_scope_missing_is_403_insufficient_scope(
    b24: RunningSandbox, knobs: Knobs, http: httpx.Client
) -> None:
    url = knobs.webhook(scopes=["department"])
    response = http.post(url + "user.get.json", json={})
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert http.post(url + "department.get.json", json={}).status_code == 200
    assert http.post(url + "server.time.json", json={}).status_code == 200  # basic needs no scope


@pytest.mark.any_portal
@pytest.mark.parametrize("method", ["event.bind", "event.get", "events", "event.offline.get"])
def test_app_only_methods_refuse_webhooks(rest: Rest, method: str) -> None:
    response = rest(method, {"event": "ONUSERADD", "handler": "http://127.0.0.1:9/h"})
    assert response.status_code == 403
    assert response.json()["error"] == "ACCESS_DENIED"


@pytest.mark.any_portal
def test_app_info_refuses_webhook_with_documented_error(rest: Rest) -> None:
    response = rest("app.info")
    assert response.status_code == 400
    assert response.json()["error_description"] == "Access denied! Application context required"


def test_install_posts_onappinstall_form_encoded(b24: RunningSandbox, knobs: Knobs) -> None:
    with capture_server() as (url, received):
        out = knobs.install(url + "/b24/install")
    assert out["delivery"]["status"] == 200
    assert len(received) == 1
    form = received[0].form
    assert received[0].path == "/b24/install"
    assert form["event"] == "ONAPPINSTALL"
    assert form["data"]["INSTALLED"] == "Y" and form["data"]["ACTIVE"] == "Y"
    auth = form["auth"]
    assert auth["application_token"] == knobs.app()["application_token"]
    assert auth["access_token"] and auth["refresh_token"] and auth["member_id"]
    # b24pysdk credentials/oauth_placement_data.py: the domain is the host of client_endpoint
    assert auth["domain"] == b24.base_url.split("://")[1]
    assert auth["client_endpoint"] == f"https://{auth['domain']}/rest/".replace("https", "http")
    assert "auth%5Bapplication_token%5D=" in received[0].raw  # PHP bracket notation on the wire


def _oauth(b24: RunningSandbox, http: httpx.Client, token: str, method: str, **body: Any) -> httpx.Response:
    return http.post(f"{b24.base_url}/rest/{method}.json", json={"auth": token, **body})


def test_token_calls_expire_and_refresh(b24: RunningSandbox, knobs: Knobs, http: httpx.Client) -> None:
    auth = knobs.install()["auth"]
    assert _oauth(b24, http, auth["access_token"], "user.current").json()["result"]["ID"] == "1"
    # the token may also come in the query string or a form field (§1.1)
    query = http.get(f"{b24.base_url}/rest/user.current.json", params={"auth": auth["access_token"]})
    assert query.status_code == 200
    assert _oauth(b24, http, "bogus", "user.current").status_code == 401
    knobs.advance(3600)
    expired = _oauth(b24, http, auth["access_token"], "user.current")
    assert expired.status_code == 401 and expired.json()["error"] == "expired_token"
    app = knobs.app()
    params = {
        "grant_type": "refresh_token",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "refresh_token": auth["refresh_token"],
    }
    fresh = http.get(f"{b24.base_url}/oauth/token/", params=params)
    assert fresh.status_code == 200
    body = fresh.json()
    for key in (
        "access_token",
        "refresh_token",
        "expires_in",
        "member_id",
        "client_endpoint",
        "server_endpoint",
    ):
        assert key in body
    assert body["expires_in"] == 3600 and body["member_id"] == auth["member_id"]
    assert _oauth(b24, http, body["access_token"], "user.current").status_code == 200
    reused = http.get(f"{b24.base_url}/oauth/token/", params=params)  # a refresh token is used once
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    wrong = http.get(f"{b24.base_url}/oauth/token/", params={**params, "client_secret": "nope"})
    assert wrong.json()["error"] == "invalid_client"


def test_app_can_call_app_only_methods(b24: RunningSandbox, knobs: Knobs, http: httpx.Client) -> None:
    token = knobs.install()["auth"]["access_token"]
    info = _oauth(b24, http, token, "app.info").json()["result"]
    assert info["INSTALLED"] is True and info["STATUS"] == "L"
    assert "ONUSERADD" in _oauth(b24, http, token, "events").json()["result"]


def test_scope_and_methods_lists(rest: Rest, knobs: Knobs, b24: RunningSandbox, http: httpx.Client) -> None:
    url = knobs.webhook(scopes=["user", "department"])
    assert http.post(url + "scope.json", json={}).json()["result"] == ["department", "user"]
    names = http.post(url + "methods.json", json={}).json()["result"]
    assert "user.add" in names and "batch" in names and "sonet_group.create" not in names
    assert rest.ok("method.get", {"name": "user.add"}) == {"isExisting": True, "isAvailable": True}
    assert rest.ok("server.time") == "2026-01-01T00:00:00+00:00"
    assert rest.ok("profile")["ADMIN"] is True


def test_refresh_token_lives_180_days(b24: RunningSandbox, knobs: Knobs, http: httpx.Client) -> None:
    auth = knobs.install()["auth"]
    app = knobs.app()
    knobs.advance(180 * 86400 + 1)
    response = http.post(
        f"{b24.base_url}/oauth/token/",
        data={
            "grant_type": "refresh_token",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "refresh_token": auth["refresh_token"],
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
