"""Real ``.bpt`` templates built from the process catalog run in the Bitrix24 sandbox.

Installed through ``bizproc.workflow.template.add`` over HTTP as a designer export (PHP serialize,
zlib), then started: the REST activity calls the (loopback) bridge out, the approval task appears for the
approver the bridge named, decisions are reported, set-field and notify steps change the element and tell
the employee, a silent approver's task goes to the alternate after the deadline.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from processes import activities, bpt
from processes.catalog import default_catalog
from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.methods import im
from sandbox.bitrix24.testing import Rest, RunningSandbox

from .procs_helpers import App, Bridge, Hook, add_user, element_row, flush, prop_id

LEAVE = default_catalog().entry("leave")


def _leave_list(rest: Rest) -> int:
    iblock = int(
        rest.ok(
            "lists.add",
            {
                "IBLOCK_TYPE_ID": "bitrix_processes",
                "IBLOCK_CODE": "eb_leave",
                "FIELDS": {"NAME": LEAVE.title},
                "RIGHTS": {"U1": "X", "*": "E"},
            },
        )
    )
    for f in [*LEAVE.fields, None]:
        code, name, kind = (
            (bpt.property_code(f.code), f.label, "S:Date" if f.type == "date" else "S")
            if f
            else (bpt.STATUS_FIELD, "Статус", "S")
        )
        rest.ok(
            "lists.field.add",
            {
                "IBLOCK_TYPE_ID": "bitrix_processes",
                "IBLOCK_ID": iblock,
                "FIELDS": {"NAME": name, "TYPE": kind, "CODE": code},
            },
        )
    return iblock


def _install(b24: RunningSandbox, app: App, bridge: Bridge, iblock: int) -> int:
    doc_type = ["lists", "BizprocDocument", f"iblock_{iblock}"]
    for spec in activities.ALL:
        app.ok("bizproc.activity.add", spec.add_params(f"{bridge.url}/activity", doc_type))
    package = bpt.build(LEAVE, b24.sandbox.portal.app.client_id)
    return int(
        app.ok(
            "bizproc.workflow.template.add",
            {
                "DOCUMENT_TYPE": doc_type,
                "NAME": LEAVE.title,
                "AUTO_EXECUTE": 0,
                "TEMPLATE_DATA": ["leave.bpt", base64.b64encode(package).decode()],
            },
        )
    )


class Portal:
    """Users and hooks of one scenario, with the bridge's answers per activity code."""

    def __init__(self, b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App, bridge: Bridge) -> None:
        self.b24, self.rest, self.bridge = b24, rest, bridge
        self.employee, self.employee_hook = add_user(b24.knobs, http, "Employee")
        self.client, self.client_hook = add_user(b24.knobs, http, "Client")
        self.manager, self.manager_hook = add_user(b24.knobs, http, "Manager")
        self.alternate, self.alternate_hook = add_user(b24.knobs, http, "Alternate")
        self.answers: dict[str, dict[str, Any]] = {
            "eb_resolve_approvers": {
                "Valid": "Y",
                "ClientApprover": f"user_{self.client}",
                "ProviderManager": f"user_{self.manager}",
                "AlternateApprover": f"user_{self.alternate}",
            },
            "eb_check_balance": {"Valid": "Y", "Balance": "28"},
            "eb_submit_to_1c": {"Accepted": "Y", "DocNumber": "ЗО-000123"},
        }
        bridge.answer = lambda call: self.answers.get(call["code"])
        self.iblock = _leave_list(rest)
        self.template = _install(b24, app, bridge, self.iblock)

    def file(self, date_from: str = "2026-07-01", date_to: str = "2026-07-14") -> tuple[int, str]:
        element = int(
            self.employee_hook.ok(
                "lists.element.add",
                {
                    "IBLOCK_TYPE_ID": "bitrix_processes",
                    "IBLOCK_ID": self.iblock,
                    "ELEMENT_CODE": f"leave-{date_from}",
                    "FIELDS": {
                        "NAME": "Отпуск: Employee",
                        self.prop("leave_kind"): "annual",
                        self.prop("date_from"): date_from,
                        self.prop("date_to"): date_to,
                    },
                },
            )
        )
        workflow = self.rest.ok(
            "bizproc.workflow.start",
            {"TEMPLATE_ID": self.template, "DOCUMENT_ID": ["lists", "BizprocDocument", str(element)]},
        )
        self.settle()
        return element, str(workflow)

    def prop(self, code: str) -> str:
        """§5.2: element values go by property id (``PROPERTY_951``), templates address them by code."""
        return "PROPERTY_" + prop_id(self.rest, self.iblock, bpt.property_code(code))

    def settle(self) -> None:
        """Deliver call-outs until the bridge has nothing more to answer."""
        for _ in range(10):
            before = len(self.bridge.received)
            flush(self.b24.knobs)
            if len(self.bridge.received) == before:
                return

    def calls(self, code: str) -> list[dict[str, Any]]:
        return [r for r in self.bridge.received if r.get("code") == code]

    def decide(self, hook: Hook, status: int, comment: str | None = None) -> dict[str, Any]:
        tasks = hook.ok(
            "bizproc.task.list", {"SELECT": ["ID", "NAME", "ACTIVITY", "DESCRIPTION", "PARAMETERS"]}
        )
        assert len(tasks) == 1, tasks
        body: dict[str, Any] = {"TASK_ID": tasks[0]["ID"], "STATUS": status}
        if comment:
            body["COMMENT"] = comment
        assert hook.ok("bizproc.task.complete", body) is True
        self.settle()
        return dict(tasks[0])

    def status(self, element: int) -> list[str]:
        row = element_row(self.rest, self.iblock, element)
        return list(row.get("PROPERTY_" + prop_id(self.rest, self.iblock, bpt.STATUS_FIELD), {}).values())

    def told(self) -> list[str]:
        return [n["message"] for n in im.notifications(self.b24.sandbox.portal, self.employee)]


@pytest.fixture
def portal(b24: RunningSandbox, rest: Rest, http: httpx.Client, app: App, bridge: Bridge) -> Portal:
    return Portal(b24, rest, http, app, bridge)


def test_the_template_installs_with_its_steps(portal: Portal) -> None:
    template = engine.state(portal.b24.sandbox.portal).templates[portal.template]
    kinds = [s["type"] for s in template.steps]
    assert kinds[:4] == ["set_field", "rest", "if", "rest"]
    assert [s["name"] for s in template.steps if s["type"] == "approve"] == ["A_client", "A_provider"]
    assert next(s for s in template.steps if s.get("name") == "A_check")["code"] == "eb_resolve_approvers"


def test_a_leave_request_runs_through_its_approvals(portal: Portal) -> None:
    element, workflow = portal.file()
    check = portal.calls("eb_resolve_approvers")
    assert len(check) == 1 and check[0]["workflow_id"] == workflow
    assert check[0]["properties"] == {"RequestKind": "leave"}
    balance = portal.calls("eb_check_balance")[0]
    # The document's dates reach the call-out (their external form is the call-out encoder's business).
    assert balance["properties"]["DateFrom"] and balance["properties"]["DateTo"]

    task = portal.decide(portal.client_hook, 1)
    assert task["ACTIVITY"] == "ApproveActivity"
    assert task["NAME"] == "Согласование на объекте: Отпуск: Employee"
    assert task["PARAMETERS"]["StatusYesLabel"] == "Approve"
    assert portal.status(element) == ["На согласовании"]
    decision = portal.calls("eb_record_decision")[0]
    assert decision["use_subscription"] == "N"
    assert decision["properties"]["Step"] == "client" and decision["properties"]["Decision"] == "Y"

    portal.decide(portal.manager_hook, 1, "ок")
    submit = portal.calls("eb_submit_to_1c")
    assert len(submit) == 1 and submit[0]["properties"] == {"RequestKind": "leave"}
    assert portal.status(element) == ["Передано в 1С"]
    assert portal.told() == ["Отпуск согласован и передан в отдел кадров."]
    wf = engine.state(portal.b24.sandbox.portal).workflows[workflow]
    assert wf.state == "completed" and wf.outputs["A_submit"]["DocNumber"] == "ЗО-000123"


def test_an_invalid_request_stops_with_the_bridges_message(portal: Portal) -> None:
    portal.answers["eb_resolve_approvers"] = {
        "Valid": "N",
        "Message": "Заявление не отправлено: даты перепутаны",
    }
    element, workflow = portal.file("2026-07-14", "2026-07-01")
    assert portal.told() == ["Заявление не отправлено: даты перепутаны"]
    assert portal.status(element) == ["Не отправлено: ошибки в заявке"]
    assert portal.calls("eb_check_balance") == [] and portal.calls("eb_submit_to_1c") == []
    assert portal.rest.ok("bizproc.workflow.instances", {"FILTER": {"ID": workflow}}) == []  # not running
    assert portal.client_hook.ok("bizproc.task.list") == []


def test_a_rejection_is_reported_and_told(portal: Portal) -> None:
    element, _ = portal.file()
    portal.decide(portal.client_hook, 2, "аврал на объекте")
    decision = portal.calls("eb_record_decision")[0]["properties"]
    assert decision["Decision"] == "N" and decision["Comment"] == "аврал на объекте"
    assert portal.told() == ["Отпуск не согласован: аврал на объекте"]
    assert portal.status(element) == ["Не согласовано"]
    assert portal.calls("eb_submit_to_1c") == []


def test_a_silent_approver_is_replaced_by_the_alternate(portal: Portal) -> None:
    portal.file()
    assert len(portal.client_hook.ok("bizproc.task.list")) == 1
    portal.b24.knobs.advance(LEAVE.approvals[0].deadline_hours * 3600 + 1)
    portal.settle()
    assert portal.client_hook.ok("bizproc.task.list", {"FILTER": {"STATUS": 0}}) == []
    portal.decide(portal.alternate_hook, 1)
    portal.decide(portal.manager_hook, 1)
    assert len(portal.calls("eb_submit_to_1c")) == 1


def test_an_unknown_designer_activity_is_refused(portal: Portal, app: App) -> None:
    datum = bpt.template(LEAVE, portal.b24.sandbox.portal.app.client_id)
    datum["TEMPLATE"][0]["Children"].append({"Type": "CodeActivity", "Name": "A_php", "Properties": {}})
    response = app(
        "bizproc.workflow.template.add",
        {
            "DOCUMENT_TYPE": ["lists", "BizprocDocument", f"iblock_{portal.iblock}"],
            "NAME": "PHP",
            "TEMPLATE_DATA": base64.b64encode(bpt.pack(datum)).decode(),
        },
    )
    assert response.json() == {
        "error": "ERROR_TEMPLATE_VALIDATION_FAILURE",
        "error_description": "Incorrect field TEMPLATE_DATA!",
    }
