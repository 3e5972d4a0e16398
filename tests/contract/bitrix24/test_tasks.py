"""tasks.task.* conformance (b24restdocs api-reference/tasks: tasks-task-add/get/list/delete.md,
status/tasks-task-complete.md, fields.md)."""

from __future__ import annotations

import httpx

from sandbox.bitrix24.testing import Knobs, Rest


def _employee(rest: Rest, n: int) -> int:
    return int(rest.ok("user.add", {"EMAIL": f"task{n}@example.com", "UF_DEPARTMENT": [1]}))


def test_add_get_and_required_fields(rest: Rest) -> None:
    uid = _employee(rest, 1)
    added = rest.ok(
        "tasks.task.add",
        {
            "fields": {
                "TITLE": "Прочитать приказ",
                "RESPONSIBLE_ID": uid,
                "TAGS": ["lna-1"],
                "DEADLINE": "2026-12-31T18:00:00+03:00",
            }
        },
    )["task"]
    assert added["status"] == "2" and added["responsibleId"] == str(uid)  # 2 = waiting for execution
    assert added["tags"] == ["lna-1"] and added["deadline"].startswith("2026-12-31T15:00:00")
    got = rest.ok("tasks.task.get", {"taskId": added["id"], "select": ["ID", "STATUS"]})["task"]
    assert got == {"id": added["id"], "status": "2"}
    missing = rest("tasks.task.add", {"fields": {"TITLE": "x"}})
    assert missing.status_code == 400 and missing.json()["error"] == "ERROR_CORE"
    nobody = rest("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 999999}}).json()
    assert nobody["error_description"] == 'User specified in the "Responsible" field not found'
    assert rest("tasks.task.get", {"taskId": "abc"}).json()["error"] == "0"


def test_list_filters_by_tag_and_status_and_pages(rest: Rest) -> None:
    uid = _employee(rest, 2)
    ids = [
        rest.ok("tasks.task.add", {"fields": {"TITLE": f"t{i}", "RESPONSIBLE_ID": uid, "TAGS": "lna-7"}})[
            "task"
        ]["id"]
        for i in range(52)
    ]
    rest.ok("tasks.task.add", {"fields": {"TITLE": "other", "RESPONSIBLE_ID": uid}})
    body = rest(
        "tasks.task.list", {"filter": {"TAG": "lna-7"}, "order": {"ID": "asc"}, "select": ["ID"]}
    ).json()
    assert [t["id"] for t in body["result"]["tasks"]] == ids[:50]
    assert body["total"] == 52 and body["next"] == 50
    default = rest.ok("tasks.task.list", {"filter": {"TAG": "lna-7"}, "select": ["ID"]})["tasks"]
    assert default[0]["id"] == ids[-1]  # default order: ID descending
    rest.ok("tasks.task.complete", {"taskId": ids[3]})
    done = rest.ok(
        "tasks.task.list", {"filter": {"TAG": "lna-7", "REAL_STATUS": 5}, "select": ["ID", "CLOSED_BY"]}
    )
    assert done["tasks"] == [{"id": ids[3], "closedBy": "1"}]
    bad = rest("tasks.task.list", {"order": {"NOPE": "asc"}})
    assert bad.status_code == 400 and bad.json()["error"] == "0"


def test_only_people_of_the_task_see_and_close_it(rest: Rest, knobs: Knobs, http: httpx.Client) -> None:
    owner, stranger = _employee(rest, 3), _employee(rest, 4)
    task = rest.ok("tasks.task.add", {"fields": {"TITLE": "t", "RESPONSIBLE_ID": owner}})["task"]
    as_stranger = Rest(knobs.webhook(user_id=stranger, scopes=["task"]), http)
    assert as_stranger.ok("tasks.task.list", {})["tasks"] == []
    assert as_stranger("tasks.task.complete", {"taskId": task["id"]}).json()["error"] == "ERROR_CORE"
    as_owner = Rest(knobs.webhook(user_id=owner, scopes=["task"]), http)
    closed = as_owner.ok("tasks.task.complete", {"taskId": task["id"]})["task"]
    assert closed["status"] == "5" and closed["closedBy"] == str(owner) and closed["closedDate"]
    assert rest.ok("tasks.task.delete", {"taskId": task["id"]}) == {"task": True}
    assert rest("tasks.task.get", {"taskId": task["id"]}).status_code == 400
