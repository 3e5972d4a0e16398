"""sonet_group.* conformance (bitrix24-rest.md §4, §2.6, §11.5–§11.9)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.bitrix24.testing import Knobs, Rest


def _sonet_error(rest: Rest, method: str, body: dict[str, Any]) -> str:
    response = rest(method, body)
    assert response.status_code == 400
    assert response.json()["error"] == ""  # §11.8: empty error code
    return str(response.json()["error_description"])


def test_create_get_row_shape(rest: Rest) -> None:
    gid = rest.ok("sonet_group.create", {"NAME": "Contractor crew 42", "VISIBLE": "N", "INITIATE_PERMS": "E"})
    assert isinstance(gid, int)
    body = rest("sonet_group.get", {"FILTER": {"ID": gid}}).json()
    row = body["result"][0]
    assert body["total"] == 1
    assert row["ID"] == str(gid) and row["OWNER_ID"] == "1" and row["NUMBER_OF_MEMBERS"] == "1"
    assert row["IS_EXTRANET"] == "N" and row["DESCRIPTION"] is None and row["VISIBLE"] == "N"
    assert "INITIATE_PERMS" not in row  # §4.2 [S]: stripped from the output


def test_create_requires_name(rest: Rest) -> None:
    assert _sonet_error(rest, "sonet_group.create", {"DESCRIPTION": "x"}) == "Incorrect input data"


def test_update_returns_id_delete_returns_true(rest: Rest) -> None:
    gid = rest.ok("sonet_group.create", {"NAME": "G"})
    assert rest.ok("sonet_group.update", {"GROUP_ID": gid, "CLOSED": "Y"}) == gid  # §11.7
    assert rest.ok("sonet_group.get", {"FILTER": {"ID": gid}})[0]["CLOSED"] == "Y"
    assert rest.ok("sonet_group.delete", {"GROUP_ID": gid}) is True
    assert _sonet_error(rest, "sonet_group.update", {"GROUP_ID": gid}) == "Socialnetwork group not found"
    assert _sonet_error(rest, "sonet_group.delete", {}) == "Wrong group ID"


def test_member_methods_and_parameter_oddities(rest: Rest) -> None:
    gid = rest.ok("sonet_group.create", {"NAME": "G"})
    a = rest.ok("user.add", {"EMAIL": "a@example.com", "UF_DEPARTMENT": [1]})
    b = rest.ok("user.add", {"EMAIL": "b@example.com", "UF_DEPARTMENT": [1]})
    assert rest.ok("sonet_group.user.add", {"GROUP_ID": gid, "USER_ID": [a, b]}) == [str(a), str(b)]
    assert rest.ok("sonet_group.user.add", {"GROUP_ID": gid, "USER_ID": a}) == []  # already a member
    # §11.6: user.get takes ID, not GROUP_ID.
    assert _sonet_error(rest, "sonet_group.user.get", {"GROUP_ID": gid}) == "Wrong socialnetwork group ID"
    body = rest("sonet_group.user.get", {"ID": gid}).json()
    assert "total" not in body
    assert body["result"] == [
        {"USER_ID": "1", "ROLE": "A"},
        {"USER_ID": str(a), "ROLE": "K"},
        {"USER_ID": str(b), "ROLE": "K"},
    ]
    assert rest.ok("sonet_group.user.update", {"GROUP_ID": gid, "USER_ID": a, "ROLE": "E"}) == [str(a)]
    assert _sonet_error(rest, "sonet_group.user.update", {"GROUP_ID": gid, "USER_ID": a, "ROLE": "A"}) == (
        "Incorrect role code"
    )
    assert rest.ok("sonet_group.user.delete", {"GROUP_ID": gid, "USER_ID": [1, b]}) == [str(b)]  # owner stays
    assert _sonet_error(rest, "sonet_group.user.add", {"GROUP_ID": gid, "USER_ID": []}) == "Wrong user IDs"


def test_extranet_member_turns_group_extranet(rest: Rest, knobs: Knobs) -> None:
    first = rest.ok("sonet_group.create", {"NAME": "First"})
    ext = rest.ok("user.add", {"EMAIL": "x@c.example", "EXTRANET": "Y", "SONET_GROUP_ID": [first]})
    target = rest.ok("sonet_group.create", {"NAME": "Target"})
    assert rest.ok("sonet_group.get", {"FILTER": {"IS_EXTRANET": "Y"}}) == []
    rest.ok("sonet_group.user.add", {"GROUP_ID": target, "USER_ID": ext})
    rows = rest.ok("sonet_group.get", {"FILTER": {"IS_EXTRANET": "Y"}})
    assert [r["ID"] for r in rows] == [str(target)]


def test_permissions(b24: Any, rest: Rest, knobs: Knobs, http: Any) -> None:
    gid = rest.ok("sonet_group.create", {"NAME": "Hidden", "VISIBLE": "N"})
    uid = knobs.add_user({"EMAIL": "p@example.com", "UF_DEPARTMENT": [1]})
    url = knobs.webhook(user_id=uid, scopes=["sonet_group"])

    def call(method: str, body: dict[str, Any]) -> Any:
        return http.post(url + method + ".json", json=body).json()

    listing = call("sonet_group.get", {})
    assert listing["result"] == [] and "total" not in listing
    assert call("sonet_group.user.add", {"GROUP_ID": gid, "USER_ID": uid})["error_description"] == (
        "No permissions to add users"
    )
    assert call("sonet_group.update", {"GROUP_ID": gid, "NAME": "x"})["error_description"] == (
        "User has no permissions to update group"
    )
    # an admin sees hidden groups only with IS_ADMIN=Y (§4.2)
    other = knobs.add_user({"EMAIL": "o@example.com", "UF_DEPARTMENT": [1]})
    hidden = http.post(
        knobs.webhook(user_id=other, scopes=["sonet_group"]) + "sonet_group.create.json",
        json={"NAME": "Private", "VISIBLE": "N"},
    ).json()["result"]
    assert str(hidden) not in {r["ID"] for r in rest.ok("sonet_group.get", {})}
    assert str(hidden) in {r["ID"] for r in rest.ok("sonet_group.get", {"IS_ADMIN": "Y"})}


@pytest.mark.parametrize("perms", ["A", "K"])
def test_invite_follows_initiate_perms(b24: Any, rest: Rest, knobs: Knobs, http: Any, perms: str) -> None:
    gid = rest.ok("sonet_group.create", {"NAME": "G", "INITIATE_PERMS": perms})
    member = knobs.add_user({"EMAIL": "m@example.com", "UF_DEPARTMENT": [1]})
    guest = knobs.add_user({"EMAIL": "g@example.com", "UF_DEPARTMENT": [1]})
    rest.ok("sonet_group.user.add", {"GROUP_ID": gid, "USER_ID": member})
    url = knobs.webhook(user_id=member, scopes=["sonet_group"])
    invited = http.post(url + "sonet_group.user.invite.json", json={"GROUP_ID": gid, "USER_ID": guest}).json()
    assert invited["result"] == ([str(guest)] if perms == "K" else [])


def test_setowner(rest: Rest) -> None:
    gid = rest.ok("sonet_group.create", {"NAME": "G"})
    uid = rest.ok("user.add", {"EMAIL": "o@example.com", "UF_DEPARTMENT": [1]})
    assert rest.ok("sonet_group.setowner", {"GROUP_ID": gid, "USER_ID": uid}) is True
    roles = {m["USER_ID"]: m["ROLE"] for m in rest.ok("sonet_group.user.get", {"ID": gid})}
    assert roles == {"1": "E", str(uid): "A"}
