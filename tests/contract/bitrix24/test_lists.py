"""``lists.*`` over HTTP against bitrix24-rest.md §5.1–§5.5 and §11.10–§11.11 (and the lists docs)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from sandbox.bitrix24.testing import Rest, RunningSandbox

from .procs_helpers import add_user

P = "bitrix_processes"


def _list(rest: Rest, code: str = "leave", **extra: Any) -> int:
    return int(
        rest.ok("lists.add", {"IBLOCK_TYPE_ID": P, "IBLOCK_CODE": code, "FIELDS": {"NAME": "Leave"}, **extra})
    )


def _field(rest: Rest, iblock: int, code: str, ftype: str, **extra: Any) -> str:
    fields = {"NAME": code.title(), "TYPE": ftype, "CODE": code, **extra}
    return str(rest.ok("lists.field.add", {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock, "FIELDS": fields}))


def _err(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def test_lists_add_get_and_errors(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    iblock = _list(rest)
    assert _err(
        rest("lists.add", {"IBLOCK_TYPE_ID": P, "IBLOCK_CODE": "leave", "FIELDS": {"NAME": "Again"}})
    ) == (
        400,
        "ERROR_IBLOCK_ALREADY_EXISTS",
        "Iblock already exists",
    )
    assert _err(rest("lists.add", {"IBLOCK_TYPE_ID": P, "FIELDS": {"NAME": "x"}}))[1] == (
        "ERROR_REQUIRED_PARAMETERS_MISSING"
    )
    _, hook = add_user(b24.knobs, http, "Clerk")
    assert _err(hook("lists.add", {"IBLOCK_TYPE_ID": P, "IBLOCK_CODE": "c", "FIELDS": {"NAME": "x"}}))[
        :2
    ] == (
        403,
        "ACCESS_DENIED",
    )
    rows = rest.ok("lists.get", {"IBLOCK_TYPE_ID": P})
    assert [(r["ID"], r["CODE"], r["BIZPROC"], r["IBLOCK_TYPE_ID"]) for r in rows] == [
        (str(iblock), "leave", "Y", P)
    ]
    assert rest.ok("lists.get", {"IBLOCK_TYPE_ID": "lists"}) == []
    assert rest.ok("lists.get", {"IBLOCK_TYPE_ID": P, "IBLOCK_CODE": "leave"})[0]["ID"] == str(iblock)


def test_fields_rules_and_the_get_quirk(rest: Rest) -> None:
    iblock = _list(rest)
    status = _field(rest, iblock, "STATUS", "L", LIST_TEXT_VALUES="new\napproved")
    assert status.startswith("PROPERTY_")
    base = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock}
    no_code = rest("lists.field.add", {**base, "FIELDS": {"NAME": "X", "TYPE": "S"}})
    assert _err(no_code) == (400, "ERROR_SAVE_FIELD", "Please fill the code fields")
    dup = rest("lists.field.add", {**base, "FIELDS": {"NAME": "Y", "TYPE": "S", "CODE": "STATUS"}})
    assert _err(dup)[2] == "Property already exists"
    assert _err(rest("lists.field.add", {**base, "FIELDS": {"TYPE": "S", "CODE": "Z"}}))[1] == (
        "ERROR_REQUIRED_PARAMETERS_MISSING"
    )
    read_only = {"NAME": "R", "TYPE": "S", "CODE": "R", "SETTINGS": {"ADD_READ_ONLY_FIELD": "Y"}}
    assert _err(rest("lists.field.add", {**base, "FIELDS": read_only}))[2] == (
        'The default value of the field "R" is required'
    )
    assert rest.ok("lists.field.add", {**base, "FIELDS": {"NAME": "Sort", "TYPE": "SORT"}}) == "SORT"
    # §5.5 / §11.10: with FIELD_ID the description is keyed by the TYPE, without it by field id.
    one = rest.ok("lists.field.get", {**base, "FIELD_ID": status})
    assert list(one) == ["L"] and one["L"]["FIELD_ID"] == status
    assert sorted(one["L"]["DISPLAY_VALUES_FORM"].values()) == ["approved", "new"]
    assert set(rest.ok("lists.field.get", base)) == {"NAME", "SORT", status}
    changed = rest("lists.field.update", {**base, "FIELD_ID": status, "FIELDS": {"NAME": "S", "TYPE": "S"}})
    assert _err(changed) == (400, "ERROR_UPDATE_FIELD", "Field type can not be changed")
    assert rest.ok(
        "lists.field.update", {**base, "FIELD_ID": status, "FIELDS": {"NAME": "State", "TYPE": "L"}}
    )
    assert rest.ok("lists.field.get", {**base, "FIELD_ID": status})["L"]["NAME"] == "State"
    types = rest.ok("lists.field.type.get", base)
    assert types["S:employee"] == "Binding to employee" and types["S:DiskFile"] == "File (Disk)"
    assert rest.ok("lists.field.delete", {**base, "FIELD_ID": status}) is True
    assert status not in rest.ok("lists.field.get", base)
    missing = rest("lists.field.get", {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": 999})
    assert _err(missing) == (400, "ERROR_IBLOCK_NOT_FOUND", "Iblock not found")


def test_element_add_get_shapes_and_errors(rest: Rest) -> None:
    iblock = _list(rest)
    emp = _field(rest, iblock, "EMP", "S:employee", MULTIPLE="Y")
    until = _field(rest, iblock, "UNTIL", "S:DateTime")
    doc = _field(rest, iblock, "DOC", "F")
    need = _field(rest, iblock, "REASON", "S", IS_REQUIRED="Y")
    base = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock}
    fields = {"NAME": "Leave: Petrov", emp: ["1", "1"], until: "2024-12-31 23:59:59", need: "vacation"}
    no_code = rest("lists.element.add", {**base, "FIELDS": fields})
    assert _err(no_code)[1] == "ERROR_REQUIRED_PARAMETERS_MISSING"  # §5.2: ELEMENT_CODE is required
    element = rest.ok("lists.element.add", {**base, "ELEMENT_CODE": "1c-leave-000123", "FIELDS": fields})
    assert isinstance(element, int)
    again = rest("lists.element.add", {**base, "ELEMENT_CODE": "1c-leave-000123", "FIELDS": fields})
    assert _err(again) == (400, "ERROR_ELEMENT_ALREADY_EXISTS", "Element already exists")
    by_id = rest("lists.element.add", {**base, "ELEMENT_CODE": "f", "FIELDS": {**fields, doc: "123"}})
    assert _err(by_id) == (400, "ERROR_ELEMENT_FIELD_VALUE", "Writing file values by ID is not supported")
    without = rest("lists.element.add", {**base, "ELEMENT_CODE": "r", "FIELDS": {"NAME": "x"}})
    assert _err(without)[1] == "ERROR_ADD_ELEMENT"
    elsewhere = rest(
        "lists.element.add",
        {"IBLOCK_TYPE_ID": "lists", "IBLOCK_ID": iblock, "ELEMENT_CODE": "z", "FIELDS": fields},
    )
    assert _err(elsewhere)[1] == "ERROR_IBLOCK_NOT_FOUND"
    row = rest.ok("lists.element.get", {**base, "ELEMENT_CODE": "1c-leave-000123"})[0]
    assert row["ID"] == str(element) and row["CODE"] == "1c-leave-000123" and row["CREATED_BY"] == "1"
    # §5.3: every property is an object keyed by value id; dates in the display format.
    assert list(row[emp].values()) == ["1", "1"] and len(set(row[emp])) == 2
    assert list(row[until].values()) == ["12/31/2024 11:59:59 pm"]
    assert list(row[need].values()) == ["vacation"]


def test_element_update_overwrites_all_but_files(rest: Rest) -> None:
    iblock = _list(rest)
    note = _field(rest, iblock, "NOTE", "S")
    doc = _field(rest, iblock, "DOC", "F", MULTIPLE="Y")
    base = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock}
    pdf = ["a.pdf", base64.b64encode(b"%PDF-1.4").decode()]
    element = rest.ok(
        "lists.element.add",
        {**base, "ELEMENT_CODE": "u1", "FIELDS": {"NAME": "One", note: "keep?", doc: [pdf]}},
    )
    file_value = next(iter(rest.ok("lists.element.get", {**base, "ELEMENT_ID": element})[0][doc]))
    assert rest.ok("lists.element.update", {**base, "ELEMENT_ID": element, "FIELDS": {"NAME": "Two"}}) is True
    row = rest.ok("lists.element.get", {**base, "ELEMENT_ID": element})[0]
    assert row["NAME"] == "Two" and note not in row  # §5.4: not sent → cleared
    assert list(row[doc]) == [file_value]  # files stay
    rest.ok(
        "lists.element.update",
        {**base, "ELEMENT_CODE": "u1", "FIELDS": {"NAME": "Two", f"{doc}_DEL": {file_value: "Y"}}},
    )
    assert doc not in rest.ok("lists.element.get", {**base, "ELEMENT_ID": element})[0]
    gone = rest("lists.element.update", {**base, "ELEMENT_ID": 424242, "FIELDS": {"NAME": "x"}})
    assert _err(gone) == (400, "ERROR_ELEMENT_NOT_FOUND", "Element not found")
    assert rest.ok("lists.element.delete", {**base, "ELEMENT_ID": element}) is True
    assert _err(rest("lists.element.delete", {**base, "ELEMENT_ID": element}))[1] == "ERROR_ELEMENT_NOT_FOUND"


def test_filter_order_and_paging(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    iblock = _list(rest)
    days = _field(rest, iblock, "DAYS", "N")
    base = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock}
    form = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": str(iblock)}
    for i in range(60):  # form posts with PHP brackets work as well as JSON (§1.1)
        data = {**form, "ELEMENT_CODE": f"e{i}", "FIELDS[NAME]": f"E{i:02d}", f"FIELDS[{days}]": str(i)}
        assert http.post(b24.webhook_url + "lists.element.add.json", data=data).status_code == 200
    first = rest("lists.element.get", base).json()
    assert (len(first["result"]), first["total"], first["next"]) == (50, 60, 50)
    second = rest("lists.element.get", {**base, "start": 50}).json()
    assert len(second["result"]) == 10 and "next" not in second
    big = rest.ok(
        "lists.element.get",
        {**base, "FILTER": {f">={days}": 57}, "ELEMENT_ORDER": {"NAME": "desc"}, "SELECT": ["ID", "NAME"]},
    )
    assert [r["NAME"] for r in big] == ["E59", "E58", "E57"] and set(big[0]) == {"ID", "NAME"}
    assert [r["NAME"] for r in rest.ok("lists.element.get", {**base, "FILTER": {"%NAME": "E1"}})][:2] == [
        "E10",
        "E11",
    ]


@pytest.mark.parametrize("rights, can_add", [(None, False), ({"U1": "X", "*": "E"}, True)])
def test_list_rights(
    b24: RunningSandbox, rest: Rest, http: httpx.Client, rights: dict[str, str] | None, can_add: bool
) -> None:
    extra: dict[str, Any] = {"RIGHTS": rights} if rights else {}
    iblock = _list(rest, "leave", **extra)
    _, hook = add_user(b24.knobs, http, "Employee")
    base = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock}
    added = hook("lists.element.add", {**base, "ELEMENT_CODE": "x", "FIELDS": {"NAME": "x"}})
    assert (added.status_code == 200) is can_add
    if can_add:  # "E" is add-only: editing needs U or more (lists-add.md RIGHTS)
        edit = hook("lists.element.update", {**base, "ELEMENT_CODE": "x", "FIELDS": {"NAME": "y"}})
        assert _err(edit)[:2] == (403, "ACCESS_DENIED")
    else:
        assert _err(added)[:2] == (403, "ACCESS_DENIED")
