"""Business processes over HTTP, part two: manual start/terminate/kill, templates over REST and knobs,
constants, task visibility, multi-approver and overdue tasks, fire-and-forget activities.

Checked against bitrix24-rest.md §5.2, §5.6–§5.11; the loopback bridge is in procs_helpers.py.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import httpx

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.testing import Rest, RunningSandbox

from .procs_helpers import (
    App,
    Bridge,
    add_user,
    element_row,
    flush,
    install_app,
    leave_list,
    manual_template,
    register_activity,
)


def test_workflow_start_terminate_kill(b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App) -> None:
    iblock, _ = leave_list(rest)
    doc = ["lists", "BizprocDocument"]
    steps = [{"type": "approve", "name": "A1", "title": "Sign", "users": "{=Template:Approver}"}]
    template_id = engine.install_template(
        b24.sandbox.portal,
        name="Manual",
        steps=steps,
        document_type=[*doc, f"iblock_{iblock}"],
        parameters={"Approver": {"Type": "user", "Default": "user_1"}},
    )
    element = rest.ok(
        "lists.element.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_ID": iblock,
            "ELEMENT_CODE": "w1",
            "FIELDS": {"NAME": "Doc"},
        },
    )
    assert rest.ok("bizproc.workflow.instances") == []  # auto_execute 0: nothing started
    errors = [
        ({}, "ERROR_WRONG_WORKFLOW_ID", "Empty TEMPLATE_ID"),
        (
            {"TEMPLATE_ID": 99999, "DOCUMENT_ID": [*doc, str(element)]},
            "ERROR_WRONG_WORKFLOW_ID",
            "Template not found",
        ),
        ({"TEMPLATE_ID": template_id, "DOCUMENT_ID": [*doc, "424242"]}, "", "Wrong DOCUMENT_ID!"),
    ]
    for body, code, text in errors:
        response = rest("bizproc.workflow.start", body)
        assert (response.status_code, response.json()) == (400, {"error": code, "error_description": text})
    _, hook = add_user(b24.knobs, http, "Plain")
    assert (
        hook(
            "bizproc.workflow.start", {"TEMPLATE_ID": template_id, "DOCUMENT_ID": [*doc, str(element)]}
        ).json()["error"]
        == "ACCESS_DENIED"
    )
    assert hook("bizproc.workflow.instances").status_code == 403
    wf = rest.ok(
        "bizproc.workflow.start",
        {
            "TEMPLATE_ID": template_id,
            "DOCUMENT_ID": [*doc, str(element)],
            "PARAMETERS": {"Approver": "user_1"},
        },
    )
    assert isinstance(wf, str) and "." in wf
    assert [t["WORKFLOW_ID"] for t in rest.ok("bizproc.task.list")] == [wf]
    assert rest("bizproc.workflow.terminate", {}).json()["error_description"] == "Empty workflow instance ID"
    assert rest.ok("bizproc.workflow.terminate", {"ID": wf, "STATUS": "Cancelled from 1C"}) is True
    assert rest.ok("bizproc.workflow.instances") == [] and rest.ok("bizproc.task.list") == []
    wf2 = rest.ok("bizproc.workflow.start", {"TEMPLATE_ID": template_id, "DOCUMENT_ID": [*doc, str(element)]})
    assert rest.ok("bizproc.workflow.kill", {"ID": wf2}) is True
    assert wf2 not in engine.state(b24.sandbox.portal).workflows


def test_template_add_and_list(b24: RunningSandbox, rest: Rest, app: App) -> None:
    iblock, _ = leave_list(rest)
    data = base64.b64encode(json.dumps({"steps": [{"type": "stop"}]}).encode()).decode()
    doc_type = ["lists", "BizprocDocument", f"iblock_{iblock}"]
    assert rest("bizproc.workflow.template.add", {"DOCUMENT_TYPE": doc_type}).status_code == 403  # app only
    bad: list[tuple[dict[str, Any], str]] = [
        ({"DOCUMENT_TYPE": ["lists"], "NAME": "T", "TEMPLATE_DATA": data}, "Incorrect field DOCUMENT_TYPE!"),
        ({"DOCUMENT_TYPE": doc_type, "NAME": "", "TEMPLATE_DATA": data}, "Empty template name!"),
        (
            {"DOCUMENT_TYPE": doc_type, "NAME": "T", "AUTO_EXECUTE": 5, "TEMPLATE_DATA": data},
            "Incorrect field AUTO_EXECUTE!",
        ),
        (
            {"DOCUMENT_TYPE": doc_type, "NAME": "T", "TEMPLATE_DATA": "not base64!"},
            "Incorrect field TEMPLATE_DATA!",
        ),
    ]
    for body, text in bad:
        response = app("bizproc.workflow.template.add", body)
        assert response.json() == {"error": "ERROR_TEMPLATE_VALIDATION_FAILURE", "error_description": text}
    new_id = app.ok(
        "bizproc.workflow.template.add",
        {"DOCUMENT_TYPE": doc_type, "NAME": "Auto", "AUTO_EXECUTE": 1, "TEMPLATE_DATA": ["t.json", data]},
    )
    rows = rest.ok("bizproc.workflow.template.list", {"FILTER": {"MODULE_ID": "lists"}})
    assert rows == [{"ID": str(new_id)}]  # default SELECT is ID only
    # A designer export (.bpt: zlib-compressed PHP serialize()) is accepted, as Bitrix24 accepts it.
    bpt = base64.b64encode(zlib.compress(b'a:1:{s:8:"TEMPLATE";a:0:{}}')).decode()
    exported = app.ok(
        "bizproc.workflow.template.add",
        {"DOCUMENT_TYPE": doc_type, "NAME": "Export", "TEMPLATE_DATA": ["leave.bpt", bpt]},
    )
    assert exported > new_id
    assert rest("bizproc.workflow.template.delete", {"ID": exported}).status_code == 403
    assert app.ok("bizproc.workflow.template.delete", {"ID": exported}) is None  # [S]: returns nothing
    assert app("bizproc.workflow.template.delete", {"ID": exported}).json()["error_description"] == (
        "Workflow template not found."
    )
    full = rest.ok(
        "bizproc.workflow.template.list", {"SELECT": ["ID", "NAME", "AUTO_EXECUTE", "DOCUMENT_TYPE"]}
    )
    assert full == [
        {"ID": str(new_id), "NAME": "Auto", "AUTO_EXECUTE": "1", "DOCUMENT_TYPE": f"iblock_{iblock}"}
    ]
    element = rest.ok(
        "lists.element.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_ID": iblock,
            "ELEMENT_CODE": "auto1",
            "FIELDS": {"NAME": "x"},
        },
    )
    state = engine.state(b24.sandbox.portal)
    assert [w.state for w in state.workflows.values() if w.document_id[2] == str(element)] == ["completed"]


def test_element_add_blocked_by_unconfigured_constants(b24: RunningSandbox, rest: Rest) -> None:
    iblock, _ = leave_list(rest)
    engine.install_template(
        b24.sandbox.portal,
        name="C",
        steps=[{"type": "stop"}],
        auto_execute=1,
        document_type=["lists", "BizprocDocument", f"iblock_{iblock}"],
        constants={"Manager": {"Type": "user", "Required": "Y", "Default": ""}},
    )
    response = rest(
        "lists.element.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_ID": iblock,
            "ELEMENT_CODE": "c1",
            "FIELDS": {"NAME": "x"},
        },
    )
    assert response.json()["error_description"] == "Workflow constants need to be configured"
    assert rest.ok("lists.element.get", {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock}) == []


def test_non_admin_sees_own_tasks_only(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    _, hook = add_user(b24.knobs, http, "Worker")
    other = hook("bizproc.task.list", {"FILTER": {"USER_ID": 1}})
    assert (other.status_code, other.json()["error"]) == (403, "ACCESS_DENIED")
    assert hook.ok("bizproc.task.list") == []
    # [S] checkUserSubordination: a department head may list the tasks of the people below them.
    boss, boss_hook = add_user(b24.knobs, http, "Head")
    dept = rest.ok("department.add", {"NAME": "Site 7", "PARENT": 1, "UF_HEAD": boss})
    worker = b24.knobs.add_user({"NAME": "W", "EMAIL": "w7@example.com", "UF_DEPARTMENT": [dept]})
    assert boss_hook("bizproc.task.list", {"FILTER": {"USER_ID": worker}}).status_code == 200
    assert boss_hook("bizproc.task.list", {"FILTER": {"USER_ID": 1}}).status_code == 403


def test_sandbox_knobs_install_and_inspect(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    iblock, _ = leave_list(rest)
    doc_type = ["lists", "BizprocDocument", f"iblock_{iblock}"]
    steps = [{"type": "notify", "to": "{=Document:CREATED_BY}", "message": "Got {=Document:NAME}"}]
    bad = http.post(
        f"{b24.base_url}/_sandbox/bizproc/templates", json={"document_type": doc_type, "steps": [{}]}
    )
    assert bad.status_code == 400
    made = http.post(
        f"{b24.base_url}/_sandbox/bizproc/templates",
        json={"name": "Hello", "document_type": doc_type, "steps": steps, "auto_execute": 3},
    )
    assert made.status_code == 200
    body = {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock, "ELEMENT_CODE": "k1"}
    element = rest.ok("lists.element.add", {**body, "FIELDS": {"NAME": "Form A"}})
    rest.ok("lists.element.update", {**body, "ELEMENT_ID": element, "FIELDS": {"NAME": "Form B"}})
    flows = http.get(f"{b24.base_url}/_sandbox/bizproc/workflows").json()["workflows"]
    assert [(w["template_id"], w["state"]) for w in flows] == [(made.json()["id"], "completed")] * 2
    notes = http.get(f"{b24.base_url}/_sandbox/im/notifications", params={"user_id": 1}).json()[
        "notifications"
    ]
    assert [n["message"] for n in notes] == ["Got Form A", "Got Form B"]  # AUTO_EXECUTE 3: create and edit


def test_all_approvers_must_agree_and_overdue_tasks(
    b24: RunningSandbox, rest: Rest, http: httpx.Client
) -> None:
    one, hook_one = add_user(b24.knobs, http, "One")
    two, hook_two = add_user(b24.knobs, http, "Two")
    iblock, fields = leave_list(rest)
    steps: list[dict[str, Any]] = [
        {
            "type": "approve",
            "name": "A1",
            "title": "Both",
            "users": [one, f"user_{two}"],
            "approve_type": "all",
            "comment_required": "YR",
            "timeout": 3600,
            "approved": [{"type": "set_field", "field": "PROPERTY_STATUS", "value": "ok"}],
            "rejected": [
                {
                    "type": "set_field",
                    "field": "PROPERTY_STATUS",
                    "value": "{=A1:ApproveResult}/{=A1:IsTimeout}",
                }
            ],
        },
    ]
    manual_template(b24, iblock, steps)
    body = {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock}
    first = rest.ok("lists.element.add", {**body, "ELEMENT_CODE": "all1", "FIELDS": {"NAME": "a"}})
    task = hook_one.ok("bizproc.task.list")[0]["ID"]
    assert hook_one.ok("bizproc.task.complete", {"TASK_ID": task, "STATUS": 1})
    assert element_row(rest, iblock, first).get(fields["STATUS"]) is None  # still waiting for the second
    no_comment = hook_two("bizproc.task.complete", {"TASK_ID": task, "STATUS": 2})
    assert no_comment.json()["error"] == "ERROR_TASK_EXECUTION"  # CommentRequired YR: rejecting needs one
    assert hook_two.ok("bizproc.task.complete", {"TASK_ID": task, "STATUS": 2, "COMMENT": "no"})
    assert list(element_row(rest, iblock, first)[fields["STATUS"]].values()) == ["N/0"]
    second = rest.ok("lists.element.add", {**body, "ELEMENT_CODE": "all2", "FIELDS": {"NAME": "b"}})
    b24.knobs.advance(3601)
    assert list(element_row(rest, iblock, second)[fields["STATUS"]].values()) == ["N/1"]
    overdue = [
        t for t in hook_two.ok("bizproc.task.list", {"SELECT": ["ID", "STATUS"]}) if t["STATUS"] == "4"
    ]
    assert len(overdue) == 1


def test_fire_and_forget_activity_and_document_delete(
    b24: RunningSandbox, rest: Rest, app: App, bridge: Bridge
) -> None:
    iblock, fields = leave_list(rest)
    register_activity(app, bridge, USE_SUBSCRIPTION="N")
    steps: list[dict[str, Any]] = [
        {"type": "rest", "name": "A1", "code": "check_balance"},
        {"type": "set_field", "field": "PROPERTY_STATUS", "value": "pushed"},
        {"type": "approve", "name": "A2", "title": "Wait", "users": 1},
    ]
    manual_template(b24, iblock, steps)
    body = {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock}
    element = rest.ok("lists.element.add", {**body, "ELEMENT_CODE": "f1", "FIELDS": {"NAME": "a"}})
    # USE_SUBSCRIPTION=N (§5.11): the workflow does not wait for an answer.
    assert list(element_row(rest, iblock, element)[fields["STATUS"]].values()) == ["pushed"]
    flush(b24.knobs)
    assert bridge.received[-1]["use_subscription"] == "N"
    assert len(rest.ok("bizproc.task.list")) == 1
    rest.ok("lists.element.delete", {**body, "ELEMENT_ID": element})
    # The document's workflows and tasks go with it.
    assert rest.ok("bizproc.task.list") == [] and engine.state(b24.sandbox.portal).workflows == {}


def test_review_task_takes_ok_only(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    reader, hook = add_user(b24.knobs, http, "Reader")
    iblock, fields = leave_list(rest)
    steps: list[dict[str, Any]] = [
        {"type": "review", "name": "R1", "title": "Read the order", "users": reader},
        {"type": "set_field", "field": "PROPERTY_STATUS", "value": "read by {=R1:LastApprover}"},
    ]
    manual_template(b24, iblock, steps)
    body = {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock}
    element = rest.ok("lists.element.add", {**body, "ELEMENT_CODE": "rv", "FIELDS": {"NAME": "Order"}})
    task = hook.ok("bizproc.task.list", {"SELECT": ["ID", "ACTIVITY", "PARAMETERS"]})[0]
    assert task["ACTIVITY"] == "ReviewActivity" and "StatusOkLabel" in task["PARAMETERS"]
    assert hook("bizproc.task.complete", {"TASK_ID": task["ID"], "STATUS": 1}).json()["error"] == (
        "ERROR_TASK_EXECUTION"
    )
    assert hook.ok("bizproc.task.complete", {"TASK_ID": task["ID"], "STATUS": "ok"}) is True
    assert list(element_row(rest, iblock, element)[fields["STATUS"]].values()) == [f"read by user_{reader}"]


def test_reinstalling_the_app_drops_its_activities(
    b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App, bridge: Bridge
) -> None:
    register_activity(app, bridge)
    assert app.ok("bizproc.activity.list") == ["check_balance"]
    again = install_app(b24, http, f"{bridge.url}/install")  # a reinstall issues a new application_token
    # bizproc-activity-delete.md / [S] onRestAppUpdate: the installer has to register them again.
    assert again.ok("bizproc.activity.list") == []
    register_activity(again, bridge)
    assert again.ok("bizproc.activity.list") == ["check_balance"]
