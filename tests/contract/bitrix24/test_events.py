"""Events: bind/unbind/get, delivery of ONUSERADD (only on registration), offline queue
(bitrix24-rest.md §6.1–§6.4, §2.1; api-reference/common/events/on-user-add.md)."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.bitrix24.testing import Knobs, RunningSandbox, capture_server


class App:
    def __init__(self, b24: RunningSandbox, http: httpx.Client, token: str) -> None:
        self.url = f"{b24.base_url}/rest/"
        self.http = http
        self.token = token

    def __call__(self, method: str, **body: Any) -> httpx.Response:
        return self.http.post(self.url + method + ".json", json={"auth": self.token, **body})

    def ok(self, method: str, **body: Any) -> Any:
        response = self(method, **body)
        assert response.status_code == 200, response.text
        return response.json()["result"]


def _app(b24: RunningSandbox, knobs: Knobs, http: httpx.Client) -> App:
    return App(b24, http, knobs.install()["auth"]["access_token"])


def test_bind_get_unbind(b24: RunningSandbox, knobs: Knobs, http: httpx.Client) -> None:
    app = _app(b24, knobs, http)
    assert app.ok("event.bind", event="ONUSERADD", handler="http://127.0.0.1:9/h") is True
    dup = app("event.bind", event="onuseradd", handler="http://127.0.0.1:9/h")
    assert dup.status_code == 400 and dup.json()["error"] == "ERROR_HANDLER_ALREADY_EXIST"
    assert app.ok("event.get") == [
        {"event": "ONUSERADD", "handler": "http://127.0.0.1:9/h", "auth_type": "0", "offline": 0}
    ]
    missing = app("event.bind", event="ONNOSUCHTHING", handler="http://127.0.0.1:9/h")
    assert missing.status_code == 400 and missing.json()["error"] == "ERROR_EVENT_NOT_FOUND"
    assert app.ok("event.unbind", event="ONUSERADD", handler="http://127.0.0.1:9/h") == {"count": 1}
    assert app.ok("event.get") == []


def test_onuseradd_fires_on_registration_not_on_invite(
    b24: RunningSandbox, knobs: Knobs, http: httpx.Client
) -> None:
    app = _app(b24, knobs, http)
    with capture_server() as (url, received):
        app.ok("event.bind", event="ONUSERADD", handler=url + "/events")
        uid = app.ok("user.add", EMAIL="inv@example.com", UF_DEPARTMENT=[1], NAME="Klaus")
        knobs.http.post("/_sandbox/events/flush")
        assert received == []  # §2.1: no ONUSERADD on invitation
        outcome = knobs.accept(uid)
        assert outcome["handlers"] == 1
        assert len(received) == 1
    form = received[0].form
    assert form["event"] == "ONUSERADD"
    assert form["data"]["ID"] == str(uid) and form["data"]["NAME"] == "Klaus"  # fields directly in data
    assert form["auth"]["application_token"] == knobs.app()["application_token"]
    assert form["auth"]["access_token"] and form["auth"]["refresh_token"]  # on-user-add.md auth table
    assert form["data"]["ACTIVE"] == "Y" and "USER_TYPE" not in form["data"]
    assert form["event_handler_id"] and form["ts"]
    again = knobs.accept(uid)
    assert again["handlers"] == 0  # only the first registration fires


def test_non_admin_app_user_restrictions(b24: RunningSandbox, knobs: Knobs, http: httpx.Client) -> None:
    knobs.install()
    uid = knobs.add_user({"EMAIL": "u@example.com", "UF_DEPARTMENT": [1]})
    access, _refresh = b24.sandbox.portal.issue_tokens(uid)
    app = App(b24, http, access)
    offline = app("event.bind", event="ONUSERADD", event_type="offline")
    assert offline.status_code == 403 and offline.json()["error"] == "ACCESS_DENIED"
    foreign = app("event.bind", event="ONUSERADD", handler="http://127.0.0.1:9/h", auth_type=1)
    assert foreign.status_code == 403
    assert (
        app("event.bind", event="ONUSERADD", handler="http://127.0.0.1:9/h", auth_type=uid).status_code == 200
    )


def test_offline_queue_keeps_latest_per_object_and_reserves(
    b24: RunningSandbox, knobs: Knobs, http: httpx.Client
) -> None:
    app = _app(b24, knobs, http)
    app.ok("event.bind", event="ONSONETGROUPUPDATE", event_type="offline")
    gid = app.ok("sonet_group.create", NAME="G")
    for name in ("a", "b", "c"):
        app.ok("sonet_group.update", GROUP_ID=gid, NAME=name)
    reserved = app.ok("event.offline.get", clear=0)
    assert reserved["process_id"]
    assert [e["EVENT_NAME"] for e in reserved["events"]] == ["ONSONETGROUPUPDATE"]  # 3 edits → 1 record
    assert app.ok("event.offline.get", clear=0)["events"] == []  # reserved rows are not handed out twice
    assert app.ok("event.offline.clear", process_id=reserved["process_id"]) is True
    app.ok("sonet_group.update", GROUP_ID=gid, NAME="d")
    taken = app.ok("event.offline.get")
    assert taken["process_id"] is None and len(taken["events"]) == 1
    assert app.ok("event.offline.get")["events"] == []


def test_reinstall_drops_bindings_and_uninstall_revokes(
    b24: RunningSandbox, knobs: Knobs, http: httpx.Client
) -> None:
    app = _app(b24, knobs, http)
    app.ok("event.bind", event="ONUSERADD", handler="http://127.0.0.1:9/h")
    app = _app(b24, knobs, http)  # §6.1: handlers are removed when the app is reinstalled
    assert app.ok("event.get") == []
    with capture_server() as (url, received):
        app.ok("event.bind", event="ONAPPUNINSTALL", handler=url + "/bye")
        token = knobs.app()["application_token"]
        knobs.uninstall(clean=True)
    form = received[0].form
    assert form["event"] == "ONAPPUNINSTALL" and form["data"]["CLEAN"] == "1"
    assert form["auth"]["application_token"] == token and "access_token" not in form["auth"]
    assert app("user.current").status_code == 401  # access removed
