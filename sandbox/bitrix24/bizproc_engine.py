"""A small interpreter for business-process templates, enough for a leave request or a timesheet end to end.

Owns templates, registered REST activities, workflow instances, approval tasks and their rules: start
(by hand or auto-start on document create/edit), run steps until one must wait, resume on
``bizproc.event.send`` or ``bizproc.task.complete``, time-outs on the portal clock, terminate and kill.
It must not parse REST parameters (methods/bizproc.py does) or hold state outside ``portal.extensions``.

Sandbox template format (installed with ``install_template`` or as the JSON file of
``bizproc.workflow.template.add``): ``steps`` is a list of dicts, each with a ``type``:

* ``rest`` ``{name, code, properties?, use_subscription?, timeout?}`` — call the app's activity ``code``
  (POST of bitrix24-rest.md §5.12), then wait for ``bizproc.event.send`` unless it does not subscribe;
  the answer's RETURN_VALUES become ``{=<name>:<key>}``, and ``{=<name>:IsTimeout}`` is 1 after a time-out.
* ``approve`` ``{name, title, users, description?, approve_type: any|all, comment_required?, timeout?,
  approved?: [steps], rejected?: [steps]}`` — an ApproveActivity task for ``users``; the branch for the
  outcome runs, then the remaining steps. A time-out marks the task overdue (4) and takes ``rejected``.
* ``review`` — the same keys; a ReviewActivity task ("read it"), completed with STATUS 3 only.
* ``set_field`` ``{field, value}`` — write a field of the document (a list element).
* ``notify`` ``{to, message}`` — an im system notification to a user.
* ``stop`` ``{status?}`` — end the workflow here.
* ``if`` ``{name, branches: [{when, steps}]}`` — the first branch whose condition holds (bpt.py).

Values may hold ``{=Document:FIELD}``, ``{=Template:Param}``, ``{=Constant:Name}`` or
``{=<step name>:<key>}``; users are ``5``, ``"user_5"`` or such an expression.
Sources: ../shared/reference/bitrix24-rest.md §5.2, §5.6–§5.14;
[S] CBPRestActivity, Bitrix\\Bizproc\\RestService.
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24 import bpt
from sandbox.bitrix24 import procs_lists_model as documents
from sandbox.bitrix24.core import RestError
from sandbox.bitrix24.procs_bizproc_callout import build_payload, enqueue, make_token, new_event_id
from sandbox.bitrix24.procs_bizproc_model import (
    ON_CREATE,
    ON_EDIT,
    TASK_KEEP_SECONDS,
    Activity,
    BizprocState,
    Task,
    Template,
    Workflow,
    install_template,
    resolve,
    state,
    user_ids,
)
from sandbox.bitrix24.procs_common import as_int, now, uniq_id

__all__ = [
    "ON_CREATE",
    "ON_EDIT",
    "Activity",
    "BizprocState",
    "Task",
    "Template",
    "Workflow",
    "install_template",
    "resolve",
    "state",
    "user_ids",
]


# -- starting -----------------------------------------------------------------------------------------
def _auto_templates(portal: Any, document_type: list[str], event: int) -> list[Template]:
    return [
        t
        for t in state(portal).templates.values()
        if t.document_type == document_type and t.auto_execute & event
    ]


def check_autostart(portal: Any, document_type: list[str], event: int, error_code: str) -> None:
    """§5.2 [S]: an auto-start template whose required constants are unset makes the add fail."""
    for template in _auto_templates(portal, document_type, event):
        for constant in template.constants.values():
            if (
                isinstance(constant, dict)
                and constant.get("Required") in ("Y", True, 1)
                and not constant.get("Default")
            ):
                raise RestError(error_code, "Workflow constants need to be configured")


def autostart(
    portal: Any, document_id: list[str], document_type: list[str], event: int, user_id: int
) -> list[str]:
    """Start every auto-start template for this event, as ``user_id``, parameters at their defaults (§5.2)."""
    return [
        start(portal, t.id, document_id, {}, user_id) for t in _auto_templates(portal, document_type, event)
    ]


def start(
    portal: Any, template_id: int, document_id: list[str], parameters: dict[str, Any], user_id: int
) -> str:
    """Create and run a workflow instance; returns its id (bitrix24-rest.md §5.6)."""
    st = state(portal)
    template = st.templates[template_id]
    moment = now(portal)
    defaults = {k: (v.get("Default") if isinstance(v, dict) else v) for k, v in template.parameters.items()}
    wf = Workflow(
        uniq_id(),
        template.id,
        list(document_id),
        list(template.document_type),
        moment,
        user_id,
        moment,
        [dict(s) for s in template.steps],
        {**defaults, **parameters, "TargetUser": f"user_{user_id}"},
    )
    st.workflows[wf.id] = wf
    _advance(portal, wf)
    return wf.id


# -- running ------------------------------------------------------------------------------------------
def _finish(portal: Any, wf: Workflow, final: str, status_text: str = "") -> None:
    wf.state, wf.status_text, wf.waiting = final, status_text or wf.status_text, None
    wf.finished = wf.modified = now(portal)
    wf.queue = []


def _advance(portal: Any, wf: Workflow) -> None:
    """Run steps until one has to wait or the template ends."""
    while wf.state == "running" and wf.waiting is None:
        if not wf.queue:
            _finish(portal, wf, "completed", "Completed")
            return
        step = wf.queue.pop(0)
        wf.modified = now(portal)
        kind = step["type"]
        if kind == "rest":
            _run_rest(portal, wf, step)
        elif kind in ("approve", "review"):
            _run_approve(portal, wf, step)
        elif kind == "set_field":
            value = resolve(portal, wf, step.get("value"))
            if not documents.write_field(portal, wf.document_id, str(step.get("field")), value):
                wf.log.append(f"set_field: no field {step.get('field')}")
        elif kind == "notify":
            from sandbox.bitrix24.methods import im  # the im family keeps the notifications

            for uid in user_ids(portal, wf, step.get("to")):
                im.add_notification(
                    portal, uid, str(resolve(portal, wf, step.get("message", ""))), from_user=0
                )
        elif kind == "if":
            wf.queue = bpt.branch(portal, wf, step) + wf.queue
        elif kind == "stop":
            _finish(portal, wf, "completed", str(step.get("status") or "Completed"))


def _run_rest(portal: Any, wf: Workflow, step: dict[str, Any]) -> None:
    st = state(portal)
    activity = next((a for a in st.activities.values() if a.code == step["code"] and not a.is_robot), None)
    if activity is None or not portal.app.installed or activity.app_id != portal.app.client_id:
        # [S] CBPRestActivity::execute throws when the activity or its app is gone: the workflow fails.
        _finish(portal, wf, "terminated", f"Activity {step['code']} not found")
        return
    # bitrix24-rest.md §5.11: USE_SUBSCRIPTION empty = wait; only an explicit N is fire-and-forget.
    subscription = str(step.get("use_subscription") or activity.use_subscription or "Y").upper() != "N"
    timeout = as_int(step.get("timeout"), 0)
    properties = {
        k: (v.get("DEFAULT") if isinstance(v, dict) else None) for k, v in activity.properties.items()
    }
    properties.update(resolve(portal, wf, step.get("properties") or {}))
    event_id = new_event_id()
    auth_user = activity.auth_user_id or wf.started_by
    payload = build_payload(
        portal,
        workflow_id=wf.id,
        code=activity.code,
        document_id=wf.document_id,
        document_type=wf.document_type,
        token=make_token(portal, wf.id, step["name"], event_id),
        properties=properties,
        use_subscription=subscription,
        timeout=timeout,
        auth_user_id=auth_user,
    )
    wf.outputs[step["name"]] = {k: None for k in activity.return_properties} | {"IsTimeout": 0}
    enqueue(portal, activity.handler, payload, activity.code)
    if subscription:
        deadline = now(portal) + timeout if timeout > 0 else None
        wf.waiting = {
            "kind": "event",
            "name": step["name"],
            "event_id": event_id,
            "code": activity.code,
            "deadline": deadline,
        }


def _run_approve(portal: Any, wf: Workflow, step: dict[str, Any]) -> None:
    st = state(portal)
    users = user_ids(portal, wf, step.get("users"))
    if not users:
        wf.log.append(f"{step['name']}: no approvers")
        wf.queue = list(step.get("rejected") or []) + wf.queue
        return
    timeout = as_int(step.get("timeout"), 0)
    task = Task(
        st.next_task,
        wf.id,
        step["name"],
        str(resolve(portal, wf, step.get("title") or step["name"])),
        str(resolve(portal, wf, step.get("description") or "")),
        {u: 0 for u in users},
        str(step.get("approve_type") or "any"),
        modified=now(portal),
        overdue_at=now(portal) + timeout if timeout > 0 else None,
    )
    # bitrix24-rest.md §5.9 PARAMETERS: approval has Yes/No buttons, review a single OK one.
    task.parameters = {
        "CommentLabel": "Comment",
        "CommentRequired": str(step.get("comment_required") or "N"),
        "ShowComment": "Y",
    }
    if step["type"] == "review":
        task.activity = "ReviewActivity"
        task.parameters["StatusOkLabel"] = "Read"
    else:
        task.parameters.update({"StatusYesLabel": "Approve", "StatusNoLabel": "Reject"})
    st.next_task += 1
    st.tasks[task.id] = task
    wf.waiting = {"kind": "task", "name": step["name"], "task_id": task.id, "step": step}


def _decide(portal: Any, wf: Workflow, task: Task, approved: bool, status: int) -> None:
    step = wf.waiting["step"] if wf.waiting else {}
    task.status, task.modified = status, now(portal)
    last: dict[str, Any] = task.comments[-1] if task.comments else {}
    wf.outputs[task.activity_name] = {
        "ApproveResult": "Y" if approved else "N",
        "LastApprover": f"user_{last.get('user')}" if last else "",
        "Comments": "\n".join(str(c.get("comment") or "") for c in task.comments if c.get("comment")),
        "IsTimeout": 1 if status == 4 else 0,
    }
    wf.waiting = None
    wf.queue = list(step.get("approved" if approved else "rejected") or []) + wf.queue
    _advance(portal, wf)


# -- resuming -----------------------------------------------------------------------------------------
def send_event(
    portal: Any, wf_id: str, name: str, event_id: str, values: dict[str, Any], log: str, log_only: bool
) -> None:
    """``bizproc.event.send`` / ``bizproc.activity.log`` on a verified token (bitrix24-rest.md §5.13)."""
    wf = state(portal).workflows.get(wf_id)
    waiting = wf.waiting if wf is not None and wf.state == "running" else None
    if (
        wf is None
        or waiting is None
        or waiting.get("kind") != "event"
        or waiting["name"] != name
        or waiting["event_id"] != event_id
    ):
        # §5.13 [D]: an invalid or expired token → 403 ACCESS_DENIED. ([S] silently ignores a token whose
        # activity already closed while the workflow still runs; the docs call such a token expired.)
        raise RestError("ACCESS_DENIED", "Access denied!", 403)
    if log:
        wf.log.append(f"{name}: {log}")
    if log_only:
        return
    activity = next((a for a in state(portal).activities.values() if a.code == waiting["code"]), None)
    # §5.13 [S]: RETURN_VALUES keys match RETURN_PROPERTIES case-insensitively; unknown keys are ignored.
    allowed = {k.upper(): k for k in (activity.return_properties if activity else {})}
    for key, value in (values or {}).items():
        if str(key).upper() in allowed:
            wf.outputs.setdefault(name, {})[allowed[str(key).upper()]] = value
    wf.waiting = None
    wf.modified = now(portal)
    _advance(portal, wf)


def complete_task(portal: Any, task: Task, user_id: int, status: int, comment: str | None) -> None:
    """Record one user's decision and advance the workflow when the task is decided (§5.10)."""
    wf = state(portal).workflows[task.workflow_id]
    task.users[user_id] = status
    task.comments.append({"user": user_id, "status": status, "comment": comment})
    task.modified = now(portal)
    decisions = list(task.users.values())
    if status == 2:
        _decide(portal, wf, task, False, 2)
    elif task.approve_type != "all" or all(d != 0 for d in decisions):
        _decide(portal, wf, task, True, status)


def tick(portal: Any) -> None:
    """Fire time-outs that are due on the portal clock (called before each bizproc/lists call)."""
    st = state(portal)
    moment = now(portal)
    for wf in list(st.workflows.values()):
        waiting = wf.waiting
        if wf.state != "running" or waiting is None:
            continue
        if (
            waiting["kind"] == "event"
            and waiting.get("deadline") is not None
            and waiting["deadline"] <= moment
        ):
            # [S] CBPRestActivity::onExternalEvent on the scheduler: IsTimeout = 1, the activity closes.
            wf.outputs.setdefault(waiting["name"], {})["IsTimeout"] = 1
            wf.waiting = None
            _advance(portal, wf)
        elif waiting["kind"] == "task":
            task = st.tasks[waiting["task_id"]]
            if task.overdue_at is not None and task.overdue_at <= moment:
                _decide(portal, wf, task, False, 4)


def terminate(portal: Any, wf_id: str, status_text: str) -> None:
    """bitrix24-rest.md §5.8: stop, keep the data; its open tasks are removed."""
    st = state(portal)
    wf = st.workflows.get(wf_id)
    if wf is None or wf.state != "running":
        # [S] CBPDocument::terminateWorkflow fails with the runtime's message; RestException without a code.
        raise RestError("", "Workflow is not found", 400)
    _finish(portal, wf, "terminated", status_text or "Terminated")
    for task_id in [t.id for t in st.tasks.values() if t.workflow_id == wf_id and t.status == 0]:
        del st.tasks[task_id]


def kill(portal: Any, wf_id: str) -> None:
    """bitrix24-rest.md §5.8: delete the workflow and all its data."""
    st = state(portal)
    st.workflows.pop(wf_id, None)
    for task_id in [t.id for t in st.tasks.values() if t.workflow_id == wf_id]:
        del st.tasks[task_id]


def document_deleted(portal: Any, document_id: list[str]) -> None:
    """[S] CBPDocument::OnDocumentDelete: the document's workflows and tasks go with it."""
    for wf in [w for w in state(portal).workflows.values() if w.document_id == document_id]:
        kill(portal, wf.id)


def visible_tasks(portal: Any) -> list[Task]:
    """Tasks still kept: those of finished workflows vanish a day after the end (§5.9)."""
    st = state(portal)
    moment = now(portal)
    out = []
    for task in st.tasks.values():
        wf = st.workflows.get(task.workflow_id)
        if wf is not None and (wf.finished is None or moment - wf.finished < TASK_KEEP_SECONDS):
            out.append(task)
    return out
