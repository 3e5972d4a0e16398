"""user.* conformance (bitrix24-rest.md §2, §11.1–§11.4, §11.19)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.bitrix24.testing import Knobs, Rest


def _err(rest: Rest, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = rest(method, body)
    return response.status_code, response.json()


def _group(rest: Rest, name: str = "Crew") -> int:
    return int(rest.ok("sonet_group.create", {"NAME": name}))


# -- user.add -----------------------------------------------------------------------------------------
def test_add_employee_returns_int_and_records_invitation(rest: Rest, knobs: Knobs) -> None:
    uid = rest.ok("user.add", {"EMAIL": "new@example.com", "UF_DEPARTMENT": [1], "XML_ID": "1C-1"})
    assert isinstance(uid, int)
    invitations = knobs.invitations()
    assert [i["email"] for i in invitations] == ["new@example.com"]
    view = knobs.user(uid)
    assert view is not None and view["registered"] is False
    row = rest.ok("user.get", {"FILTER": {"ID": uid}})[0]
    assert "LAST_LOGIN" not in row  # §2.1: never logged in yet; null keys are omitted (§2.3)
    assert row["USER_TYPE"] == "employee" and row["ACTIVE"] is True and row["XML_ID"] == "1C-1"


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [
        ({"UF_DEPARTMENT": [1]}, "ERROR_ARGUMENT", "wrong_email"),
        ({"EMAIL": "not-an-email", "UF_DEPARTMENT": [1]}, "ERROR_ARGUMENT", "wrong_email"),
        ({"EMAIL": "a@example.com"}, "ERROR_ARGUMENT", "no_extranet_field"),
        ({"EMAIL": "a@example.com", "UF_DEPARTMENT": []}, "ERROR_ARGUMENT", "no_extranet_field"),
        # [S] Rest\\Api\\User::userAdd (§11.4: the docs' table says ERROR_GROUPID)
        ({"EMAIL": "a@example.com", "EXTRANET": "Y"}, "ERROR_ARGUMENT", "no_sonet_group_for_extranet"),
        ({"EMAIL": "a@example.com", "EXTRANET": "Y", "SONET_GROUP_ID": [999]}, "ERROR_NO_GROUP", None),
        (
            {"EMAIL": "a@example.com", "UF_DEPARTMENT": [1], "WORK_POSITION": 5},
            "ERROR_ARGUMENT",
            "invalid_type_field",
        ),
    ],
)
def test_add_refusals(rest: Rest, body: dict[str, Any], code: str, text: str | None) -> None:
    status, err = _err(rest, "user.add", body)
    assert status == 400
    assert err["error"] == code
    if text:
        assert err["error_description"] == text


def test_add_invalid_type_names_the_argument(rest: Rest) -> None:
    _status, err = _err(
        rest, "user.add", {"EMAIL": "a@example.com", "UF_DEPARTMENT": [1], "PERSONAL_CITY": ["x"]}
    )
    assert err["argument"] == "PERSONAL_CITY"


def test_add_duplicate_email_refused_case_insensitively(rest: Rest) -> None:
    rest.ok("user.add", {"EMAIL": "dup@example.com", "UF_DEPARTMENT": [1]})
    status, err = _err(rest, "user.add", {"EMAIL": "DUP@example.com", "UF_DEPARTMENT": [1]})
    assert status == 400
    assert err["error"] == "ERROR_ARGUMENT"
    assert err["error_description"] == "User with this email already exists"


def test_add_by_non_admin_is_access_denied(b24: Any, knobs: Knobs, http: Any) -> None:
    uid = knobs.add_user({"EMAIL": "plain@example.com", "UF_DEPARTMENT": [1]})
    url = knobs.webhook(user_id=uid, scopes=["user"])
    response = http.post(url + "user.add.json", json={"EMAIL": "x@example.com", "UF_DEPARTMENT": [1]})
    assert response.status_code == 400
    assert (
        response.json()["error"] == "ERROR_CORE" and response.json()["error_description"] == "access_denied"
    )


def test_user_basic_scope_can_read_but_not_invite(b24: Any, knobs: Knobs, http: Any) -> None:
    url = knobs.webhook(scopes=["user_basic"])
    assert http.post(url + "user.get.json", json={}).status_code == 200
    response = http.post(url + "user.add.json", json={"EMAIL": "x@example.com", "UF_DEPARTMENT": [1]})
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_extranet_invite_discards_departments_and_joins_group_on_accept(rest: Rest, knobs: Knobs) -> None:
    gid = _group(rest)
    body = {"EMAIL": "ext@contractor.example", "EXTRANET": "Y", "SONET_GROUP_ID": [gid], "UF_DEPARTMENT": [1]}
    uid = rest.ok("user.add", body)
    # §2.3 [S]: an invitee with only a pending join request is outside the admin's groups — visible
    # only with ADMIN_MODE, or (userGet skips the restriction for an admin filtering by ID) by ID.
    assert rest.ok("user.get", {"FILTER": {"EMAIL": "ext@contractor.example"}}) == []
    assert [r["ID"] for r in rest.ok("user.get", {"FILTER": {"ID": uid}})] == [str(uid)]
    row = rest.ok("user.get", {"FILTER": {"ID": uid}, "ADMIN_MODE": True})[0]
    assert row["USER_TYPE"] == "extranet"
    assert "UF_DEPARTMENT" not in row
    members = {m["USER_ID"] for m in rest.ok("sonet_group.user.get", {"ID": gid})}
    assert str(uid) not in members  # a join request, not yet a membership (§2.1 [S])
    assert rest.ok("sonet_group.get", {"FILTER": {"ID": gid}})[0]["IS_EXTRANET"] == "N"
    knobs.accept(uid)
    members = {m["USER_ID"] for m in rest.ok("sonet_group.user.get", {"ID": gid})}
    assert str(uid) in members
    assert rest.ok("sonet_group.get", {"FILTER": {"ID": gid}})[0]["IS_EXTRANET"] == "Y"
    assert "LAST_LOGIN" in rest.ok("user.get", {"FILTER": {"ID": uid}})[0]  # now in the admin's group


# -- user.update --------------------------------------------------------------------------------------
def test_dismiss_and_reinstate(rest: Rest) -> None:
    uid = rest.ok("user.add", {"EMAIL": "d@example.com", "UF_DEPARTMENT": [1]})
    assert rest.ok("user.update", {"ID": uid, "ACTIVE": "N"}) is True
    assert rest.ok("user.get", {"FILTER": {"ID": uid}})[0]["ACTIVE"] is False
    assert rest.ok("user.get", {"FILTER": {"ACTIVE": True, "ID": uid}}) == []
    rest.ok("user.update", {"ID": uid, "ACTIVE": "Y"})
    assert rest.ok("user.get", {"FILTER": {"ID": uid}})[0]["ACTIVE"] is True


@pytest.mark.parametrize(
    ("value", "active"), [(False, False), ("N", False), ("", False), (0, False), ("false", True)]
)
def test_active_normalisation(rest: Rest, value: Any, active: bool) -> None:
    uid = rest.ok("user.add", {"EMAIL": "n@example.com", "UF_DEPARTMENT": [1]})
    rest.ok("user.update", {"ID": uid, "ACTIVE": value})
    assert rest.ok("user.get", {"FILTER": {"ID": uid}})[0]["ACTIVE"] is active  # §2.2: "false" means Y


def test_update_errors(rest: Rest) -> None:
    status, err = _err(rest, "user.update", {"ID": 9999, "NAME": "x"})
    assert (status, err["error"], err["error_description"]) == (400, "ERROR_CORE", "access_denied")
    rest.ok("user.add", {"EMAIL": "one@example.com", "UF_DEPARTMENT": [1]})
    two = rest.ok("user.add", {"EMAIL": "two@example.com", "UF_DEPARTMENT": [1]})
    status, err = _err(rest, "user.update", {"ID": two, "EMAIL": "one@example.com"})
    assert (status, err["error"]) == (400, "ERROR_CORE")


def test_non_admin_cannot_dismiss_himself_silently(b24: Any, knobs: Knobs, http: Any) -> None:
    uid = knobs.add_user({"EMAIL": "self@example.com", "UF_DEPARTMENT": [1]})
    url = knobs.webhook(user_id=uid, scopes=["user"])
    response = http.post(url + "user.update.json", json={"ID": uid, "ACTIVE": "N", "NAME": "Me"})
    assert response.json()["result"] is True
    view = knobs.user(uid)
    assert view is not None and view["fields"]["ACTIVE"] is True and view["fields"]["NAME"] == "Me"
    other = http.post(url + "user.update.json", json={"ID": 1, "NAME": "Hacked"})
    assert other.status_code == 400 and other.json()["error_description"] == "access_denied"


# -- user.get / search / current / fields -------------------------------------------------------------
def _seed(rest: Rest, n: int) -> list[int]:
    return [
        rest.ok(
            "user.add",
            {"EMAIL": f"u{i}@example.com", "UF_DEPARTMENT": [1], "XML_ID": f"X{i}", "NAME": f"N{i}"},
        )
        for i in range(n)
    ]


def test_get_paging_total_next_and_no_count(rest: Rest) -> None:
    _seed(rest, 60)
    body = rest("user.get", {}).json()
    assert len(body["result"]) == 50 and body["total"] == 61 and body["next"] == 50
    body = rest("user.get", {"start": 50}).json()
    assert len(body["result"]) == 11 and body["total"] == 61 and "next" not in body
    assert rest("user.get", {"start": 70}).json()["result"][0]["ID"] == "51"  # floored to the page
    body = rest("user.get", {"start": -1, "FILTER": {">ID": 30}, "order": "ASC", "sort": "ID"}).json()
    assert body["total"] == 0 and "next" not in body  # §1.3: start=-1 skips COUNT
    assert [r["ID"] for r in body["result"]][:2] == ["31", "32"] and len(body["result"]) == 31


def test_get_filters(rest: Rest) -> None:
    ids = _seed(rest, 5)
    assert [r["ID"] for r in rest.ok("user.get", {"FILTER": {"XML_ID": "X3"}})] == [str(ids[3])]
    assert [r["ID"] for r in rest.ok("user.get", {"filter": {"EMAIL": "u2@example.com"}})] == [str(ids[2])]
    assert [r["ID"] for r in rest.ok("user.get", {"ID": ids[1]})] == [str(ids[1])]  # top-level filter keys
    assert len(rest.ok("user.get", {"FILTER": {"UF_DEPARTMENT": 1}})) == 6
    assert [r["ID"] for r in rest.ok("user.get", {"FILTER": {"@ID": ids[:2]}})] == [str(i) for i in ids[:2]]
    assert rest.ok("user.get", {"FILTER": {"USER_TYPE": "extranet"}}) == []
    desc = rest.ok("user.get", {"sort": "ID", "order": "DESC"})
    assert desc[0]["ID"] == str(ids[-1])


def test_empty_result_is_list_without_total(rest: Rest) -> None:
    body = rest("user.get", {"FILTER": {"XML_ID": "nobody"}}).json()
    assert body["result"] == [] and "total" not in body


def test_upper_case_start_is_not_paging(rest: Rest) -> None:
    _seed(rest, 55)
    body = rest("user.get", {"START": 50}).json()  # §11.17: only lowercase start pages
    assert body["result"][0]["ID"] == "1"


def test_select_and_types(rest: Rest) -> None:
    rest.ok("user.add", {"EMAIL": "s@example.com", "UF_DEPARTMENT": ["1"], "NAME": "S"})
    row = rest.ok("user.get", {"FILTER": {"EMAIL": "s@example.com"}, "select": ["ID", "EMAIL", "UF_*"]})[0]
    assert set(row) == {"ID", "EMAIL", "UF_DEPARTMENT"}
    assert row["ID"] == "2" and row["UF_DEPARTMENT"] == [1]


def test_search_find(rest: Rest) -> None:
    rest.ok("user.add", {"EMAIL": "p@example.com", "UF_DEPARTMENT": [1], "LAST_NAME": "Petrov"})
    rows = rest.ok("user.search", {"FILTER": {"FIND": "petr"}})
    assert [r["LAST_NAME"] for r in rows] == ["Petrov"]
    assert [r["LAST_NAME"] for r in rest.ok("user.search", {"FILTER": {"LAST_NAME": "etro"}})] == ["Petrov"]
    assert len(rest.ok("user.search", {"FILTER": {"UF_DEPARTMENT_NAME": "compa"}})) == 2


def test_current_and_fields(rest: Rest) -> None:
    me = rest.ok("user.current")
    assert me["ID"] == "1" and me["ACTIVE"] is True
    fields = rest.ok("user.fields")
    assert fields["XML_ID"] and fields["UF_DEPARTMENT"] and fields["USER_TYPE"] == "USER_TYPE"


def test_admin_mode_is_for_admins_only(b24: Any, rest: Rest, knobs: Knobs, http: Any) -> None:
    other = rest.ok("sonet_group.create", {"NAME": "Other", "OWNER_ID": 1})
    ext = rest.ok("user.add", {"EMAIL": "far@c.example", "EXTRANET": "Y", "SONET_GROUP_ID": [other]})
    plain = knobs.add_user({"EMAIL": "plain@example.com", "UF_DEPARTMENT": [1]})
    url = knobs.webhook(user_id=plain, scopes=["user"])
    body = {"FILTER": {"ID": ext}, "ADMIN_MODE": True}
    assert http.post(url + "user.get.json", json=body).json()["result"] == []
    assert [r["ID"] for r in rest.ok("user.get", body)] == [str(ext)]


def test_non_admin_does_not_see_foreign_extranet_users(b24: Any, rest: Rest, knobs: Knobs, http: Any) -> None:
    gid = _group(rest)
    ext = rest.ok("user.add", {"EMAIL": "e@c.example", "EXTRANET": "Y", "SONET_GROUP_ID": [gid]})
    knobs.accept(ext)
    plain = knobs.add_user({"EMAIL": "plain@example.com", "UF_DEPARTMENT": [1]})
    url = knobs.webhook(user_id=plain, scopes=["user"])
    seen = {r["ID"] for r in http.post(url + "user.get.json", json={}).json()["result"]}
    assert str(ext) not in seen and "1" in seen
    rest.ok("sonet_group.user.add", {"GROUP_ID": gid, "USER_ID": plain})
    seen = {r["ID"] for r in http.post(url + "user.get.json", json={}).json()["result"]}
    assert str(ext) in seen


def test_xml_id_is_not_unique(rest: Rest) -> None:
    a = rest.ok("user.add", {"EMAIL": "x1@example.com", "UF_DEPARTMENT": [1], "XML_ID": "SAME"})
    b = rest.ok("user.add", {"EMAIL": "x2@example.com", "UF_DEPARTMENT": [1], "XML_ID": "SAME"})
    assert [r["ID"] for r in rest.ok("user.get", {"FILTER": {"XML_ID": "SAME"}})] == [str(a), str(b)]
    rest.ok("user.update", {"ID": a, "XML_ID": "OTHER"})
    assert [r["ID"] for r in rest.ok("user.get", {"FILTER": {"XML_ID": "SAME"}})] == [str(b)]


def test_trailing_slash_and_get_query(b24: Any, http: Any) -> None:
    response = http.get(b24.webhook_url + "user.get/", params={"FILTER[ID]": 1})
    assert response.status_code == 200 and response.json()["result"][0]["ID"] == "1"


def test_like_patterns(rest: Rest) -> None:
    for name in ("Ivan", "Ivanka", "Bogdan"):
        rest.ok("user.add", {"EMAIL": f"{name}@example.com", "UF_DEPARTMENT": [1], "NAME": name})

    def names(flt: dict[str, Any]) -> list[str]:
        return [r["NAME"] for r in rest.ok("user.get", {"filter": flt})]

    assert names({"NAME": "Iva%"}) == ["Ivan", "Ivanka"]  # user-get.md example
    assert names({"=%NAME": "%an"}) == ["Ivan", "Bogdan"]
    assert names({"%NAME": "vank"}) == ["Ivanka"]
    assert names({"!%NAME": "an"}) == ["Portal"]
