"""A timesheet runs end to end: client approval, dispute back to the employee, resubmission (auto-start on
edit), provider approval, then the call-out that submits it to 1C (bitrix24-rest.md §5.2, §5.4, §5.6–§5.13).
"""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.methods import im
from sandbox.bitrix24.testing import Rest, RunningSandbox

from .procs_helpers import App, Bridge, add_user, element_row, flush

P = "bitrix_processes"


def _steps(client: int, provider: int) -> list[dict[str, Any]]:
    submit = {
        "type": "rest",
        "name": "Submit",
        "code": "submit_timesheet",
        "properties": {"element": "{=Document:ID}", "hours": "{=Document:PROPERTY_HOURS}"},
    }
    provider_step = {
        "type": "approve",
        "name": "Provider",
        "title": "Timesheet: {=Document:NAME}",
        "users": provider,
        "approved": [submit, {"type": "set_field", "field": "PROPERTY_STATE", "value": "{=Submit:document}"}],
        "rejected": [{"type": "set_field", "field": "PROPERTY_STATE", "value": "rejected"}, {"type": "stop"}],
    }
    dispute = [
        {"type": "set_field", "field": "PROPERTY_STATE", "value": "disputed: {=Client:Comments}"},
        {"type": "notify", "to": "{=Document:CREATED_BY}", "message": "Disputed: {=Client:Comments}"},
        {"type": "stop"},
    ]
    return [
        {
            "type": "approve",
            "name": "Client",
            "title": "Timesheet: {=Document:NAME}",
            "users": client,
            "comment_required": "YR",
            "approved": [provider_step],
            "rejected": dispute,
        },
    ]


def test_timesheet_dispute_resubmit_approve_submit(
    b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App, bridge: Bridge
) -> None:
    client, client_hook = add_user(b24.knobs, http, "Client")
    provider, provider_hook = add_user(b24.knobs, http, "Provider")
    employee, employee_hook = add_user(b24.knobs, http, "Worker")
    iblock = rest.ok(
        "lists.add",
        {
            "IBLOCK_TYPE_ID": P,
            "IBLOCK_CODE": "timesheet",
            "FIELDS": {"NAME": "Timesheet"},
            "RIGHTS": {"U1": "X", "*": "W"},
        },
    )
    base = {"IBLOCK_TYPE_ID": P, "IBLOCK_ID": iblock}
    ids = {
        code: rest.ok("lists.field.add", {**base, "FIELDS": {"NAME": code, "TYPE": t, "CODE": code}})
        for code, t in (("HOURS", "N"), ("STATE", "S"))
    }
    app.ok(
        "bizproc.activity.add",
        {
            "CODE": "submit_timesheet",
            "HANDLER": f"{bridge.url}/activity",
            "NAME": "1C",
            "PROPERTIES": {"element": {"Name": "Element"}, "hours": {"Name": "Hours"}},
            "RETURN_PROPERTIES": {"document": {"Name": "1C document"}},
        },
    )
    bridge.answer = lambda call: {"document": f"1C timesheet for {call['properties']['hours']} h"}
    engine.install_template(
        b24.sandbox.portal,
        name="Timesheet",
        steps=_steps(client, provider),
        auto_execute=engine.ON_CREATE | engine.ON_EDIT,
        document_type=["lists", "BizprocDocument", f"iblock_{iblock}"],
    )

    element = employee_hook.ok(
        "lists.element.add",
        {**base, "ELEMENT_CODE": "ts-2026-01-w", "FIELDS": {"NAME": "January", ids["HOURS"]: 150}},
    )
    task = client_hook.ok("bizproc.task.list")[0]["ID"]
    assert client_hook.ok(
        "bizproc.task.complete", {"TASK_ID": task, "STATUS": 2, "COMMENT": "3rd was a holiday"}
    )
    assert list(element_row(rest, iblock, element)[ids["STATE"]].values()) == ["disputed: 3rd was a holiday"]
    assert [n["message"] for n in im.notifications(b24.sandbox.portal, employee)] == [
        "Disputed: 3rd was a holiday"
    ]

    # The employee corrects it; the edit starts the workflow again (AUTO_EXECUTE 2, [S] §5.4).
    employee_hook.ok(
        "lists.element.update",
        {**base, "ELEMENT_ID": element, "FIELDS": {"NAME": "January", ids["HOURS"]: 142}},
    )
    open_tasks = [
        t for t in client_hook.ok("bizproc.task.list", {"SELECT": ["ID", "STATUS"]}) if t["STATUS"] == "0"
    ]
    assert client_hook.ok("bizproc.task.complete", {"TASK_ID": open_tasks[0]["ID"], "STATUS": 1})
    provider_task = provider_hook.ok("bizproc.task.list")[0]
    assert provider_task["NAME"] == "Timesheet: January"
    assert provider_hook.ok("bizproc.task.complete", {"TASK_ID": provider_task["ID"], "STATUS": 1})
    flush(b24.knobs)
    assert bridge.received[-1]["properties"] == {"element": str(element), "hours": "142"}
    assert list(element_row(rest, iblock, element)[ids["STATE"]].values()) == ["1C timesheet for 142 h"]
    states = sorted(w.state for w in engine.state(b24.sandbox.portal).workflows.values())
    assert states == ["completed", "completed"]
