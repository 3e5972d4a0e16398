"""Business processes over HTTP: templates, auto-start, the activity call-out, event.send, approval tasks.

Each behaviour is checked against bitrix24-rest.md §5.6–§5.14 (and §11.12–§11.15); the call-out goes to a
loopback "bridge" that answers with ``bizproc.event.send`` exactly as the real bridge would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.methods import im
from sandbox.bitrix24.testing import Rest, RunningSandbox

from .procs_helpers import (
    App,
    Bridge,
    add_user,
    flush,
    install_app,
    loopback_bridge,
)


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    with loopback_bridge() as running:
        yield running


@pytest.fixture
def app(b24: RunningSandbox, http: httpx.Client, bridge: Bridge) -> App:
    return install_app(b24, http, f"{bridge.url}/install")


def _leave_list(rest: Rest) -> tuple[int, dict[str, str]]:
    iblock = rest.ok(
        "lists.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_CODE": "leave",
            "FIELDS": {"NAME": "Leave request"},
            "RIGHTS": {"U1": "X", "*": "E"},
        },
    )
    fields = {}
    for code, ftype in (("START", "S:Date"), ("STATUS", "S"), ("EMPLOYEE", "S:employee")):
        fields[code] = rest.ok(
            "lists.field.add",
            {
                "IBLOCK_TYPE_ID": "bitrix_processes",
                "IBLOCK_ID": iblock,
                "FIELDS": {"NAME": code.title(), "TYPE": ftype, "CODE": code},
            },
        )
    return iblock, fields


def _register_activity(app: App, bridge: Bridge, **extra: Any) -> None:
    app.ok(
        "bizproc.activity.add",
        {
            "CODE": "check_balance",
            "HANDLER": f"{bridge.url}/activity",
            "AUTH_USER_ID": 1,
            "USE_SUBSCRIPTION": "Y",
            "NAME": {"en": "Check leave balance in 1C"},
            "PROPERTIES": {"employee": {"Name": "Employee", "Type": "user", "Required": "Y"}},
            "RETURN_PROPERTIES": {
                "approver": {"Name": "Approver", "Type": "user"},
                "balance": {"Name": "Days"},
            },
            "DOCUMENT_TYPE": ["lists", "BizprocDocument", "iblock_1"],
            **extra,
        },
    )


def _leave_template(b24: RunningSandbox, iblock: int, **step: Any) -> int:
    steps = [
        {
            "type": "rest",
            "name": "A1",
            "code": "check_balance",
            "properties": {"employee": "{=Document:CREATED_BY}"},
            **step,
        },
        {
            "type": "approve",
            "name": "A2",
            "title": "Approve leave: {=Document:NAME}",
            "users": "{=A1:approver}",
            "approved": [
                {"type": "set_field", "field": "PROPERTY_STATUS", "value": "approved"},
                {"type": "notify", "to": "{=Document:CREATED_BY}", "message": "Leave approved"},
            ],
            "rejected": [
                {"type": "set_field", "field": "PROPERTY_STATUS", "value": "rejected"},
                {"type": "notify", "to": "{=Document:CREATED_BY}", "message": "Leave rejected"},
                {"type": "stop"},
            ],
        },
        {"type": "set_field", "field": "PROPERTY_STATUS", "value": "sent to 1C"},
    ]
    return engine.install_template(
        b24.sandbox.portal,
        name="Leave",
        steps=steps,
        auto_execute=engine.ON_CREATE,
        document_type=["lists", "BizprocDocument", f"iblock_{iblock}"],
    )


def _element(rest: Rest, iblock: int, element_id: int) -> dict[str, Any]:
    rows = rest.ok(
        "lists.element.get",
        {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock, "ELEMENT_ID": element_id},
    )
    return dict(rows[0])


def test_leave_request_runs_end_to_end(
    b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App, bridge: Bridge
) -> None:
    manager, manager_hook = add_user(b24.knobs, http, "Manager")
    employee, employee_hook = add_user(b24.knobs, http, "Employee")
    bridge.answer = lambda _: {"APPROVER": f"user_{manager}", "balance": "14", "unknown": "ignored"}
    iblock, _ = _leave_list(rest)
    _register_activity(app, bridge)
    template_id = _leave_template(b24, iblock)

    element = employee_hook.ok(
        "lists.element.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_ID": iblock,
            "ELEMENT_CODE": "1c-leave-000123",
            "FIELDS": {"NAME": "Leave: Employee", "PROPERTY_START": "2026-02-01"},
        },
    )
    # §5.2: the workflow id is not returned; it is found with bizproc.workflow.instances by DOCUMENT_ID.
    running = rest.ok(
        "bizproc.workflow.instances",
        {
            "SELECT": ["ID", "TEMPLATE_ID", "STARTED_BY", "DOCUMENT_ID"],
            "FILTER": {"DOCUMENT_ID": str(element)},
        },
    )
    assert [(r["TEMPLATE_ID"], r["STARTED_BY"]) for r in running] == [(str(template_id), str(employee))]
    workflow_id = running[0]["ID"]

    flush(b24.knobs)
    call = next(r for r in bridge.received if r["_path"] == "/activity")
    # §5.12: the exact payload keys, form-encoded with PHP brackets.
    assert call["_content_type"].startswith("application/x-www-form-urlencoded")
    assert set(call) - {"_path", "_content_type"} == {
        "workflow_id",
        "code",
        "document_id",
        "document_type",
        "event_token",
        "properties",
        "use_subscription",
        "timeout_duration",
        "ts",
        "auth",
    }
    assert call["workflow_id"] == workflow_id and call["code"] == "check_balance"
    assert call["document_id"] == ["lists", "BizprocDocument", str(element)]
    assert call["document_type"] == ["lists", "BizprocDocument", f"iblock_{iblock}"]
    assert call["properties"] == {"employee": str(employee)}
    assert call["use_subscription"] == "Y" and call["timeout_duration"] == "0"
    assert call["event_token"].startswith(f"{workflow_id}|A1|")
    assert call["auth"]["application_token"] == b24.knobs.app()["application_token"]
    assert {
        "access_token",
        "refresh_token",
        "expires",
        "expires_in",
        "member_id",
        "domain",
        "user_id",
    } <= set(call["auth"])
    assert [r.status_code for r in bridge.replies] == [200]

    # The approval task belongs to the manager only (§5.10: only the assignee completes it, admins too).
    tasks = manager_hook.ok(
        "bizproc.task.list", {"SELECT": ["ID", "NAME", "STATUS", "USER_STATUS", "ACTIVITY"]}
    )
    assert len(tasks) == 1 and tasks[0]["ACTIVITY"] == "ApproveActivity"
    assert tasks[0]["NAME"] == "Approve leave: Leave: Employee"
    assert tasks[0]["DOCUMENT_ID"] == str(element) and "DOCUMENT_URL" in tasks[0]
    task_id = tasks[0]["ID"]
    assert employee_hook.ok("bizproc.task.list") == []
    for hook in (employee_hook, rest):
        refused = hook("bizproc.task.complete", {"TASK_ID": task_id, "STATUS": 1})
        assert refused.status_code == 400 and refused.json()["error"] == "ERROR_TASK_NOT_FOUND"

    assert manager_hook.ok("bizproc.task.complete", {"TASK_ID": task_id, "STATUS": "yes", "COMMENT": "ok"})
    again = manager_hook("bizproc.task.complete", {"TASK_ID": task_id, "STATUS": 1})
    assert again.json()["error"] == "ERROR_TASK_COMPLETED"

    row = _element(rest, iblock, element)
    assert list(row["PROPERTY_" + _prop_id(rest, iblock, "STATUS")].values()) == ["sent to 1C"]
    notes = im.notifications(b24.sandbox.portal, employee)
    assert [n["message"] for n in notes] == ["Leave approved"]
    assert rest.ok("bizproc.workflow.instances", {"FILTER": {"DOCUMENT_ID": str(element)}}) == []


def _prop_id(rest: Rest, iblock: int, code: str) -> str:
    fields = rest.ok("lists.field.get", {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock})
    return str(next(f["ID"] for f in fields.values() if f.get("CODE") == code))


def test_rejection_takes_the_reject_branch_and_stops(
    b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App, bridge: Bridge
) -> None:
    manager, manager_hook = add_user(b24.knobs, http, "Boss")
    bridge.answer = lambda _: {"approver": manager}
    iblock, _ = _leave_list(rest)
    _register_activity(app, bridge)
    _leave_template(b24, iblock)
    element = rest.ok(
        "lists.element.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_ID": iblock,
            "ELEMENT_CODE": "r1",
            "FIELDS": {"NAME": "Leave"},
        },
    )
    flush(b24.knobs)
    task = manager_hook.ok("bizproc.task.list")[0]
    bad = manager_hook("bizproc.task.complete", {"TASK_ID": task["ID"], "STATUS": 3})
    assert bad.json()["error"] == "ERROR_TASK_EXECUTION"  # §5.10: approval accepts 1|2 only
    wrong = manager_hook("bizproc.task.complete", {"TASK_ID": task["ID"], "STATUS": "maybe"})
    assert wrong.json() == {"error": "ERROR_TASK_VALIDATION", "error_description": "incorrect STATUS"}
    assert manager_hook.ok("bizproc.task.complete", {"TASK_ID": task["ID"], "STATUS": 2})
    row = _element(rest, iblock, element)
    assert list(row["PROPERTY_" + _prop_id(rest, iblock, "STATUS")].values()) == ["rejected"]
    assert [n["message"] for n in im.notifications(b24.sandbox.portal, 1)] == ["Leave rejected"]
    listed = manager_hook.ok("bizproc.task.list", {"SELECT": ["STATUS", "USER_STATUS"]})
    assert (listed[0]["STATUS"], listed[0]["USER_STATUS"]) == ("2", "2")
    b24.knobs.advance(86400 + 1)  # §5.9: the cloud keeps task info one day after the workflow ends
    assert manager_hook.ok("bizproc.task.list") == []


def test_event_send_rules(b24: RunningSandbox, rest: Rest, app: App, bridge: Bridge) -> None:
    bridge.answer = lambda _: None  # the bridge receives but does not answer
    iblock, _ = _leave_list(rest)
    _register_activity(app, bridge)
    _leave_template(b24, iblock)
    rest.ok(
        "lists.element.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_ID": iblock,
            "ELEMENT_CODE": "e1",
            "FIELDS": {"NAME": "Leave"},
        },
    )
    flush(b24.knobs)
    token = bridge.received[-1]["event_token"]
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    for bad in (forged, "garbage", ""):
        response = rest("bizproc.event.send", {"EVENT_TOKEN": bad})
        assert (response.status_code, response.json()["error"]) == (403, "ACCESS_DENIED")
    log = rest("bizproc.activity.log", {"EVENT_TOKEN": token})
    assert log.json()["error"] == "ERROR_EMPTY_LOG_MESSAGE"
    assert rest.ok("bizproc.activity.log", {"EVENT_TOKEN": token, "LOG_MESSAGE": "working"}) is True
    # Keys are case-insensitive (§1.4); the first answer closes the activity, a second one is refused.
    assert (
        rest.ok("bizproc.event.send", {"event_token": token, "return_values": {"approver": "user_1"}}) is True
    )
    used = rest("bizproc.event.send", {"EVENT_TOKEN": token})
    assert (used.status_code, used.json()["error"]) == (403, "ACCESS_DENIED")
    assert len(rest.ok("bizproc.task.list")) == 1  # the admin is the approver now


def test_activity_timeout_on_the_portal_clock(
    b24: RunningSandbox, rest: Rest, app: App, bridge: Bridge
) -> None:
    bridge.answer = lambda _: None
    iblock, _ = _leave_list(rest)
    _register_activity(app, bridge)
    _leave_template(b24, iblock, timeout=600)
    element = rest.ok(
        "lists.element.add",
        {
            "IBLOCK_TYPE_ID": "bitrix_processes",
            "IBLOCK_ID": iblock,
            "ELEMENT_CODE": "t1",
            "FIELDS": {"NAME": "Leave"},
        },
    )
    flush(b24.knobs)
    assert bridge.received[-1]["timeout_duration"] == "600"
    b24.knobs.advance(601)
    # No approver came back: the approval step has nobody, so the reject branch runs and the workflow stops.
    assert rest.ok("bizproc.workflow.instances", {"FILTER": {"DOCUMENT_ID": str(element)}}) == []
    row = _element(rest, iblock, element)
    assert list(row["PROPERTY_" + _prop_id(rest, iblock, "STATUS")].values()) == ["rejected"]


def test_activity_registration_is_app_only_and_validated(
    b24: RunningSandbox, rest: Rest, app: App, bridge: Bridge
) -> None:
    webhook = rest("bizproc.activity.add", {"CODE": "x", "HANDLER": f"{bridge.url}/a", "NAME": "X"})
    assert (webhook.status_code, webhook.json()["error"]) == (403, "ACCESS_DENIED")
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        (
            {"HANDLER": f"{bridge.url}/a", "NAME": "X"},
            "ERROR_ACTIVITY_VALIDATION_FAILURE",
            "Empty activity code!",
        ),
        (
            {"CODE": "bad code", "HANDLER": f"{bridge.url}/a", "NAME": "X"},
            "ERROR_ACTIVITY_VALIDATION_FAILURE",
            "Wrong activity code!",
        ),
        ({"CODE": "x", "HANDLER": "ftp://h/a", "NAME": "X"}, "ERROR_UNSUPPORTED_PROTOCOL", None),
        (
            {"CODE": "x", "HANDLER": "https://elsewhere.example.com/a", "NAME": "X"},
            "ERROR_WRONG_HANDLER_URL",
            None,
        ),
        (
            {"CODE": "x", "HANDLER": f"{bridge.url}/a"},
            "ERROR_ACTIVITY_VALIDATION_FAILURE",
            "Empty activity NAME!",
        ),
        (
            {"CODE": "x", "HANDLER": f"{bridge.url}/a", "NAME": "X", "PROPERTIES": {"1bad": {"Name": "n"}}},
            "ERROR_ACTIVITY_VALIDATION_FAILURE",
            "Wrong property key (1bad)!",
        ),
        (
            {
                "CODE": "x",
                "HANDLER": f"{bridge.url}/a",
                "NAME": "X",
                "RETURN_PROPERTIES": {"ok": {"Type": "string"}},
            },
            "ERROR_ACTIVITY_VALIDATION_FAILURE",
            "Empty property NAME (ok)!",
        ),
    ]
    for body, code, text in cases:
        response = app("bizproc.activity.add", body)
        assert response.json()["error"] == code, body
        if text:
            assert response.json()["error_description"] == text
    _register_activity(app, bridge)
    dup = app("bizproc.robot.add", {"CODE": "check_balance", "HANDLER": f"{bridge.url}/a", "NAME": "R"})
    assert dup.json()["error"] == "ERROR_ACTIVITY_ALREADY_INSTALLED"
    assert app.ok("bizproc.robot.add", {"CODE": "robot1", "HANDLER": f"{bridge.url}/r", "NAME": "R"})
    assert app.ok("bizproc.activity.list") == ["check_balance"]
    assert app.ok("bizproc.robot.list") == ["robot1"]
    assert app("bizproc.activity.update", {"CODE": "check_balance"}).json()["error_description"] == (
        "No fields to update"
    )
    assert app.ok("bizproc.activity.update", {"CODE": "check_balance", "FIELDS": {"USE_SUBSCRIPTION": "N"}})
    missing = app("bizproc.activity.delete", {"CODE": "robot1"})  # a robot is not an activity
    assert missing.json()["error"] == "ERROR_ACTIVITY_NOT_FOUND"
    assert app.ok("bizproc.robot.delete", {"CODE": "robot1"}) and app.ok("bizproc.robot.list") == []


def test_workflow_start_terminate_kill(b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App) -> None:
    iblock, _ = _leave_list(rest)
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
    iblock, _ = _leave_list(rest)
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
    iblock, _ = _leave_list(rest)
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


def test_sandbox_knobs_install_and_inspect(b24: RunningSandbox, rest: Rest, http: httpx.Client) -> None:
    from sandbox.bitrix24.procs_knobs import mount

    mount(b24.app)
    iblock, _ = _leave_list(rest)
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


def _manual_template(b24: RunningSandbox, iblock: int, steps: list[dict[str, Any]]) -> int:
    return engine.install_template(
        b24.sandbox.portal,
        name="Manual",
        steps=steps,
        auto_execute=engine.ON_CREATE,
        document_type=["lists", "BizprocDocument", f"iblock_{iblock}"],
    )


def test_all_approvers_must_agree_and_overdue_tasks(
    b24: RunningSandbox, rest: Rest, http: httpx.Client
) -> None:
    one, hook_one = add_user(b24.knobs, http, "One")
    two, hook_two = add_user(b24.knobs, http, "Two")
    iblock, fields = _leave_list(rest)
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
    _manual_template(b24, iblock, steps)
    body = {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock}
    first = rest.ok("lists.element.add", {**body, "ELEMENT_CODE": "all1", "FIELDS": {"NAME": "a"}})
    task = hook_one.ok("bizproc.task.list")[0]["ID"]
    assert hook_one.ok("bizproc.task.complete", {"TASK_ID": task, "STATUS": 1})
    assert _element(rest, iblock, first).get(fields["STATUS"]) is None  # still waiting for the second
    no_comment = hook_two("bizproc.task.complete", {"TASK_ID": task, "STATUS": 2})
    assert no_comment.json()["error"] == "ERROR_TASK_EXECUTION"  # CommentRequired YR: rejecting needs one
    assert hook_two.ok("bizproc.task.complete", {"TASK_ID": task, "STATUS": 2, "COMMENT": "no"})
    assert list(_element(rest, iblock, first)[fields["STATUS"]].values()) == ["N/0"]
    second = rest.ok("lists.element.add", {**body, "ELEMENT_CODE": "all2", "FIELDS": {"NAME": "b"}})
    b24.knobs.advance(3601)
    assert list(_element(rest, iblock, second)[fields["STATUS"]].values()) == ["N/1"]
    overdue = [
        t for t in hook_two.ok("bizproc.task.list", {"SELECT": ["ID", "STATUS"]}) if t["STATUS"] == "4"
    ]
    assert len(overdue) == 1


def test_fire_and_forget_activity_and_document_delete(
    b24: RunningSandbox, rest: Rest, app: App, bridge: Bridge
) -> None:
    iblock, fields = _leave_list(rest)
    _register_activity(app, bridge, USE_SUBSCRIPTION="N")
    steps: list[dict[str, Any]] = [
        {"type": "rest", "name": "A1", "code": "check_balance"},
        {"type": "set_field", "field": "PROPERTY_STATUS", "value": "pushed"},
        {"type": "approve", "name": "A2", "title": "Wait", "users": 1},
    ]
    _manual_template(b24, iblock, steps)
    body = {"IBLOCK_TYPE_ID": "bitrix_processes", "IBLOCK_ID": iblock}
    element = rest.ok("lists.element.add", {**body, "ELEMENT_CODE": "f1", "FIELDS": {"NAME": "a"}})
    # USE_SUBSCRIPTION=N (§5.11): the workflow does not wait for an answer.
    assert list(_element(rest, iblock, element)[fields["STATUS"]].values()) == ["pushed"]
    flush(b24.knobs)
    assert bridge.received[-1]["use_subscription"] == "N"
    assert len(rest.ok("bizproc.task.list")) == 1
    rest.ok("lists.element.delete", {**body, "ELEMENT_ID": element})
    # The document's workflows and tasks go with it.
    assert rest.ok("bizproc.task.list") == [] and engine.state(b24.sandbox.portal).workflows == {}
