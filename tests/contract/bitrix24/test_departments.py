"""department.* conformance (bitrix24-rest.md §3)."""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.testing import Knobs, Rest


def test_add_get_update_delete(rest: Rest) -> None:
    dept = rest.ok("department.add", {"NAME": "Site crew B", "PARENT": 1, "SORT": 500, "UF_HEAD": 1})
    assert isinstance(dept, int)
    body = rest("department.get", {"ID": dept}).json()
    assert body["total"] == 1
    assert body["result"] == [
        {"ID": str(dept), "NAME": "Site crew B", "SORT": 500, "PARENT": "1", "UF_HEAD": "1"}
    ]
    assert rest.ok("department.update", {"ID": dept, "NAME": "Crew C", "UF_HEAD": 0}) is True
    row = rest.ok("department.get", {"NAME": "Crew C"})[0]
    assert "UF_HEAD" not in row  # §3: UF_HEAD appears only when set
    assert rest.ok("department.delete", {"ID": dept}) is True
    assert rest.ok("department.get", {"ID": dept}) == []


def test_errors(rest: Rest) -> None:
    response = rest("department.add", {"PARENT": 1})
    assert (response.status_code, response.json()["error"]) == (400, "ERROR_CORE")
    assert response.json()["error_description"] == "Department name not provided.<br>"
    second_root = rest("department.add", {"NAME": "Another root"})
    assert "only be one top-level" in second_root.json()["error_description"]
    missing = rest("department.update", {"ID": 999, "NAME": "x"})
    assert missing.json()["error_description"] == "Department not found"
    assert rest("department.delete", {"ID": 999}).json()["error_description"] == "Department not found"


def test_sort_filter_vs_sort_order(rest: Rest) -> None:
    rest.ok("department.add", {"NAME": "B", "PARENT": 1, "SORT": 100})
    rest.ok("department.add", {"NAME": "A", "PARENT": 1, "SORT": 200})
    names = [r["NAME"] for r in rest.ok("department.get", {"sort": "NAME", "order": "ASC", "PARENT": 1})]
    assert names == ["A", "B"]
    assert [r["NAME"] for r in rest.ok("department.get", {"SORT": 200})] == ["A"]


def test_write_needs_admin_but_read_does_not(b24: Any, knobs: Knobs, http: Any) -> None:
    uid = knobs.add_user({"EMAIL": "e@example.com", "UF_DEPARTMENT": [1]})
    url = knobs.webhook(user_id=uid, scopes=["department"])
    assert http.post(url + "department.get.json", json={}).json()["total"] == 1
    refused = http.post(url + "department.add.json", json={"NAME": "X", "PARENT": 1})
    assert refused.status_code == 400 and refused.json()["error"] == "ERROR_CORE"


def test_fields(rest: Rest) -> None:
    assert set(rest.ok("department.fields")) == {"ID", "NAME", "SORT", "PARENT", "UF_HEAD"}
