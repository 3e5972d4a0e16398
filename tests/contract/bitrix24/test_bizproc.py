"""Business processes over HTTP: templates, auto-start, the activity call-out, event.send, approval tasks.

Each behaviour is checked against bitrix24-rest.md §5.6–§5.14 (and §11.12–§11.15); the call-out goes to a
loopback "bridge" that answers with ``bizproc.event.send`` exactly as the real bridge would.
"""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.bitrix24.methods import im
from sandbox.bitrix24.testing import Rest, RunningSandbox

from .procs_helpers import (
    App,
    Bridge,
    add_user,
    element_row,
    flush,
    leave_list,
    leave_template,
    prop_id,
    register_activity,
)


def test_leave_request_runs_end_to_end(
    b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App, bridge: Bridge
) -> None:
    manager, manager_hook = add_user(b24.knobs, http, "Manager")
    employee, employee_hook = add_user(b24.knobs, http, "Employee")
    bridge.answer = lambda _: {"APPROVER": f"user_{manager}", "balance": "14", "unknown": "ignored"}
    iblock, _ = leave_list(rest)
    register_activity(app, bridge)
    template_id = leave_template(b24, iblock)

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

    row = element_row(rest, iblock, element)
    assert list(row["PROPERTY_" + prop_id(rest, iblock, "STATUS")].values()) == ["sent to 1C"]
    notes = im.notifications(b24.sandbox.portal, employee)
    assert [n["message"] for n in notes] == ["Leave approved"]
    assert rest.ok("bizproc.workflow.instances", {"FILTER": {"DOCUMENT_ID": str(element)}}) == []


def test_rejection_takes_the_reject_branch_and_stops(
    b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App, bridge: Bridge
) -> None:
    manager, manager_hook = add_user(b24.knobs, http, "Boss")
    bridge.answer = lambda _: {"approver": manager}
    iblock, _ = leave_list(rest)
    register_activity(app, bridge)
    leave_template(b24, iblock)
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
    row = element_row(rest, iblock, element)
    assert list(row["PROPERTY_" + prop_id(rest, iblock, "STATUS")].values()) == ["rejected"]
    assert [n["message"] for n in im.notifications(b24.sandbox.portal, 1)] == ["Leave rejected"]
    listed = manager_hook.ok("bizproc.task.list", {"SELECT": ["STATUS", "USER_STATUS"]})
    assert (listed[0]["STATUS"], listed[0]["USER_STATUS"]) == ("2", "2")
    b24.knobs.advance(86400 + 1)  # §5.9: the cloud keeps task info one day after the workflow ends
    assert manager_hook.ok("bizproc.task.list") == []


def test_event_send_rules(b24: RunningSandbox, rest: Rest, app: App, bridge: Bridge) -> None:
    bridge.answer = lambda _: None  # the bridge receives but does not answer
    iblock, _ = leave_list(rest)
    register_activity(app, bridge)
    leave_template(b24, iblock)
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
    iblock, _ = leave_list(rest)
    register_activity(app, bridge)
    leave_template(b24, iblock, timeout=600)
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
    row = element_row(rest, iblock, element)
    assert list(row["PROPERTY_" + prop_id(rest, iblock, "STATUS")].values()) == ["rejected"]


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
    register_activity(app, bridge)
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
