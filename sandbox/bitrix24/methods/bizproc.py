"""``bizproc.*``: templates, workflow instances, tasks, app-registered activities/robots and ``event.send``.

Owns the REST surface of business processes: who may call what (admin, application context), the
documented parameter errors, list shapes (SELECT/FILTER/ORDER/start). The interpreter that runs the
workflows is sandbox/bitrix24/bizproc_engine.py; the call-out transport is procs_bizproc_callout.py.
Sources: ../shared/reference/bitrix24-rest.md §5.6–§5.14, §9.1, §11.13–§11.15; api-reference/bizproc/**;
[S] Bitrix\\Bizproc\\RestService (checks, messages and filter operators where the docs are silent).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24 import bpt
from sandbox.bitrix24 import procs_lists_model as documents
from sandbox.bitrix24.core import APP_CONTEXT_REQUIRED, CallContext, Page, RestError, method
from sandbox.bitrix24.procs_bizproc_model import TASK_STATUSES
from sandbox.bitrix24.procs_bizproc_model import _check_steps as check_steps
from sandbox.bitrix24.procs_common import (
    as_int,
    as_list,
    empty,
    filter_rows,
    is_admin,
    is_app,
    iso,
    lock,
    now,
    order_rows,
    paged,
    upper,
)

_FILTER_OPS = ("", "!", "<", "<=", ">", ">=")  # [S] RestService::$allowedOperations
_STATUSES = {"1": 1, "yes": 1, "2": 2, "no": 2, "3": 3, "ok": 3, "4": 4, "cancel": 4}  # §5.10


def require_admin(ctx: CallContext) -> None:
    # [S] checkAdminPermissions → AccessException: 403 ACCESS_DENIED "Access denied!" (§5.7, §5.8).
    if not is_admin(ctx):
        raise RestError("ACCESS_DENIED", "Access denied!", 403)


def require_app_context(ctx: CallContext) -> None:
    # §5.11 / §9.1: activity, robot and template writes need an application token.
    if not is_app(ctx):
        raise RestError(*APP_CONTEXT_REQUIRED, 403)


def _select(
    rows: list[dict[str, Any]], wanted: Any, default: list[str], forced: list[str]
) -> list[dict[str, Any]]:
    known = set(rows[0]) if rows else set()
    keys = [str(k).upper() for k in as_list(wanted) if str(k).upper() in known] or default
    keys = forced + [k for k in keys if k not in forced]
    return [{k: r[k] for k in keys if k in r} for r in rows]


def _listing(rows: list[dict[str, Any]], p: dict[str, Any], order: dict[str, str]) -> list[dict[str, Any]]:
    rows = filter_rows(
        rows,
        p.get("FILTER") or {},
        lambda r, n: r.get(n),
        allowed_ops=_FILTER_OPS,
        known=lambda n: bool(rows) and n in rows[0],
    )
    return order_rows(rows, p.get("ORDER") or order, lambda r, n: r.get(n))


# -- templates ----------------------------------------------------------------------------------------
def _template_row(t: engine.Template) -> dict[str, Any]:
    return {
        "ID": str(t.id),
        "MODULE_ID": t.document_type[0],
        "ENTITY": t.document_type[1],
        "DOCUMENT_TYPE": t.document_type[2],
        "AUTO_EXECUTE": str(t.auto_execute),
        "NAME": t.name,
        "DESCRIPTION": t.description,
        "TEMPLATE": t.steps,
        "PARAMETERS": t.parameters,
        "VARIABLES": t.variables,
        "CONSTANTS": t.constants,
        "MODIFIED": iso(t.modified),
        "IS_MODIFIED": "N",
        "USER_ID": str(t.user_id),
        "SYSTEM_CODE": t.system_code,
    }


@method("bizproc.workflow.template.list", scope="bizproc", list_method=True)
def template_list(ctx: CallContext, params: dict[str, Any]) -> Page:
    """bizproc-workflow-template-list.md: admin; SELECT default ``["ID"]``, ORDER default ``{ID: ASC}``."""
    p = upper(params)
    with lock(ctx.portal):
        require_admin(ctx)
        rows = _listing(
            [_template_row(t) for t in engine.state(ctx.portal).templates.values()], p, {"ID": "asc"}
        )
        return paged(_select(rows, p.get("SELECT"), ["ID"], []), params.get("start"))


def document_type_ok(value: Any) -> bool:
    doc = as_list(value)
    return len(doc) == 3 and all(isinstance(x, str) and x for x in doc) and doc[0] in ("lists", "crm", "disk")


@method("bizproc.workflow.template.add", scope="bizproc", app_only=True)
def template_add(ctx: CallContext, params: dict[str, Any]) -> int:
    """bizproc-workflow-template-add.md: app + admin. TEMPLATE_DATA is a ``.bpt`` file (bpt.py) or the
    sandbox JSON format; what cannot be read is refused with the documented "Incorrect field TEMPLATE_DATA!".
    """
    p = upper(params)
    with lock(ctx.portal):
        require_app_context(ctx)
        require_admin(ctx)
        if not document_type_ok(p.get("DOCUMENT_TYPE")):
            raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Incorrect field DOCUMENT_TYPE!")
        if empty(p.get("NAME")):
            # [S] validateTemplateName says "Empty activity code!"; the docs list "Empty template name!".
            raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Empty template name!")
        auto = str(p.get("AUTO_EXECUTE", "0"))
        if auto not in ("0", "1", "2", "3"):
            raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Incorrect field AUTO_EXECUTE!")
        data = _template_data(ctx.portal, p.get("TEMPLATE_DATA"))
        try:
            return engine.install_template(
                ctx.portal,
                name=str(p["NAME"]),
                document_type=as_list(p["DOCUMENT_TYPE"]),
                steps=list(data.get("steps") or []),
                auto_execute=int(auto),
                description=str(p.get("DESCRIPTION") or ""),
                parameters=data.get("parameters"),
                constants=data.get("constants"),
                user_id=ctx.caller.user_id,
                system_code=f"rest_app_{ctx.caller.client_id}",
            )
        except ValueError as exc:
            raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Incorrect field TEMPLATE_DATA!") from exc


def _template_data(portal: Any, value: Any) -> dict[str, Any]:
    """TEMPLATE_DATA is a file: base64 or ``[name, base64]`` (api-reference/files/how-to-upload-files.md).

    A real ``.bpt`` export (PHP ``serialize()``, usually zlib-compressed) is unpacked and its activities
    become steps (sandbox/bitrix24/bpt.py); the sandbox's own JSON format (bizproc_engine.py) is also read.
    """
    items = as_list(value)
    content = items[-1] if items else None
    try:
        raw = base64.b64decode(str(content), validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Incorrect field TEMPLATE_DATA!") from exc
    try:
        data = json.loads(raw)
    except ValueError:
        try:
            data = bpt.template_data(portal, raw)
        except ValueError as exc:
            raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Incorrect field TEMPLATE_DATA!") from exc
    if not isinstance(data, dict):
        raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Incorrect field TEMPLATE_DATA!")
    return data


@method("bizproc.workflow.template.update", scope="bizproc", app_only=True)
def template_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    """bizproc-workflow-template-update.md: app + admin; ID*, FIELDS with NAME, DESCRIPTION, AUTO_EXECUTE,
    TEMPLATE_DATA (other keys are ignored without an error); only templates the calling application added
    with bizproc.workflow.template.add. Messages as [S] RestService::updateWorkflowTemplate."""
    p = upper(params)
    with lock(ctx.portal):
        require_app_context(ctx)
        require_admin(ctx)
        template = engine.state(ctx.portal).templates.get(as_int(p.get("ID"), -1))
        if template is None:
            raise RestError("", "Workflow template not found.")
        if template.system_code != f"rest_app_{ctx.caller.client_id}":
            raise RestError("", "You can update ONLY templates created by current application")
        fields = upper(p["FIELDS"]) if isinstance(p.get("FIELDS"), dict) else {}
        if not fields:
            raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "No fields to update.")
        if "NAME" in fields and empty(fields["NAME"]):
            raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Empty template name!")
        auto = str(fields.get("AUTO_EXECUTE", template.auto_execute))
        if auto not in ("0", "1", "2", "3"):
            raise RestError("ERROR_TEMPLATE_VALIDATION_FAILURE", "Incorrect field AUTO_EXECUTE!")
        steps = template.steps
        if "TEMPLATE_DATA" in fields:
            data = _template_data(ctx.portal, fields["TEMPLATE_DATA"])
            try:
                check_steps(data.get("steps") or [], set())  # the same check as an added template's
            except ValueError as exc:
                raise RestError(
                    "ERROR_TEMPLATE_VALIDATION_FAILURE", "Incorrect field TEMPLATE_DATA!"
                ) from exc
            steps = list(data.get("steps") or [])
            template.parameters = dict(data.get("parameters") or {})
            template.constants = dict(data.get("constants") or {})
        template.steps = steps
        template.name = str(fields.get("NAME", template.name))
        template.description = str(fields.get("DESCRIPTION", template.description))
        template.auto_execute = int(auto)
        template.modified = now(ctx.portal)
        return True


@method("bizproc.workflow.template.delete", scope="bizproc", app_only=True)
def template_delete(ctx: CallContext, params: dict[str, Any]) -> None:
    """[S] deleteWorkflowTemplate: app + admin; only the calling app's templates; returns nothing."""
    p = upper(params)
    with lock(ctx.portal):
        require_app_context(ctx)
        require_admin(ctx)
        st = engine.state(ctx.portal)
        template = st.templates.get(as_int(p.get("ID"), -1))
        if template is None:
            raise RestError("", "Workflow template not found.")
        if template.system_code != f"rest_app_{ctx.caller.client_id}":
            raise RestError("", "You can delete ONLY templates created by current application")
        del st.templates[template.id]
        return None


# -- workflows ----------------------------------------------------------------------------------------
@method("bizproc.workflow.start", scope="bizproc")
def workflow_start(ctx: CallContext, params: dict[str, Any]) -> str:
    """§5.6: TEMPLATE_ID*, DOCUMENT_ID* ``[module, entity, id]``, PARAMETERS; result = instance id."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)
        if empty(p.get("TEMPLATE_ID")):
            raise RestError("ERROR_WRONG_WORKFLOW_ID", "Empty TEMPLATE_ID")
        template = engine.state(ctx.portal).templates.get(as_int(p["TEMPLATE_ID"], -1))
        if template is None:
            raise RestError("ERROR_WRONG_WORKFLOW_ID", "Template not found")
        doc_id = [str(x) for x in as_list(p.get("DOCUMENT_ID"))]
        found = documents.document_element(ctx.portal, doc_id) if len(doc_id) == 3 else None
        if found is None:
            raise RestError("", "Wrong DOCUMENT_ID!")  # §5.6: these errors come with an empty code.
        if found[0].document_type() != template.document_type:
            raise RestError("", "Template type and DOCUMENT_ID mismatch!")
        require_admin(ctx)  # §5.6 [D]: administrator (the docs' rule; [S] also allows the start right).
        parameters: dict[str, Any] = p["PARAMETERS"] if isinstance(p.get("PARAMETERS"), dict) else {}
        return engine.start(ctx.portal, template.id, doc_id, dict(parameters), ctx.caller.user_id)


def _instance_row(wf: engine.Workflow) -> dict[str, Any]:
    # §5.7: DOCUMENT_ID in rows is the third element only.
    return {
        "ID": wf.id,
        "MODIFIED": iso(wf.modified),
        "OWNED_UNTIL": None,
        "MODULE_ID": wf.document_id[0],
        "ENTITY": wf.document_id[1],
        "DOCUMENT_ID": wf.document_id[2],
        "STARTED": iso(wf.started),
        "STARTED_BY": str(wf.started_by),
        "TEMPLATE_ID": str(wf.template_id),
    }


@method("bizproc.workflow.instances", scope="bizproc", list_method=True)
def workflow_instances(ctx: CallContext, params: dict[str, Any]) -> Page:
    """§5.7: admin; running workflows only; SELECT default ID, MODIFIED, OWNED_UNTIL."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)
        require_admin(ctx)
        running = [w for w in engine.state(ctx.portal).workflows.values() if w.state == "running"]
        rows = _listing([_instance_row(w) for w in running], p, {"MODIFIED": "desc"})
        return paged(
            _select(rows, p.get("SELECT"), ["ID", "MODIFIED", "OWNED_UNTIL"], []), params.get("start")
        )


@method("bizproc.workflow.instance.list", scope="bizproc", list_method=True)
def workflow_instance_list(ctx: CallContext, params: dict[str, Any]) -> Page:
    """§5.7: the alias of bizproc.workflow.instances."""
    result: Page = workflow_instances(ctx, params)
    return result


@method("bizproc.workflow.terminate", scope="bizproc")
def workflow_terminate(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§5.8: admin; ID*, STATUS; stops the workflow and keeps its data."""
    p = upper(params)
    with lock(ctx.portal):
        require_admin(ctx)
        if empty(p.get("ID")):
            raise RestError("ERROR_WRONG_WORKFLOW_ID", "Empty workflow instance ID")
        engine.terminate(ctx.portal, str(p["ID"]), str(p.get("STATUS") or ""))
        return True


@method("bizproc.workflow.kill", scope="bizproc")
def workflow_kill(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§5.8: admin; ID*; deletes the workflow and all its data."""
    p = upper(params)
    with lock(ctx.portal):
        require_admin(ctx)
        if empty(p.get("ID")):
            raise RestError("ERROR_WRONG_WORKFLOW_ID", "Empty workflow instance ID")
        engine.kill(ctx.portal, str(p["ID"]))
        return True


# -- tasks --------------------------------------------------------------------------------------------
def _task_rows(portal: Any, task: engine.Task) -> list[dict[str, Any]]:
    st = engine.state(portal)
    wf = st.workflows[task.workflow_id]
    template = st.templates.get(wf.template_id)
    doc = documents.document_element(portal, wf.document_id)
    list_id = doc[0].id if doc else ""
    base = {
        "ID": str(task.id),
        "ACTIVITY": task.activity,
        "ACTIVITY_NAME": task.activity_name,
        "WORKFLOW_ID": wf.id,
        "DOCUMENT_NAME": doc[1].name if doc else "",
        "DESCRIPTION": task.description,
        "NAME": task.name,
        "MODIFIED": iso(task.modified),
        "WORKFLOW_STARTED": iso(wf.started),
        "WORKFLOW_STARTED_BY": str(wf.started_by),
        "OVERDUE_DATE": iso(task.overdue_at) if task.overdue_at else None,
        "WORKFLOW_TEMPLATE_ID": str(wf.template_id),
        "WORKFLOW_TEMPLATE_NAME": template.name if template else "",
        "WORKFLOW_STATE": wf.status_text,
        "STATUS": str(task.status),
        "MODULE_ID": wf.document_id[0],
        "ENTITY": wf.document_id[1],
        "DOCUMENT_ID": wf.document_id[2],
        "PARAMETERS": task.parameters,
        # §5.9 example DOCUMENT_URL.
        "DOCUMENT_URL": f"/bizproc/processes/?livefeed=y&list_id={list_id}&element_id={wf.document_id[2]}",
    }
    return [{**base, "USER_ID": str(uid), "USER_STATUS": str(status)} for uid, status in task.users.items()]


def _subordinate(portal: Any, boss: int, user_id: int) -> bool:
    """[S] CBPHelper::checkUserSubordination: ``user_id`` is in a department (or below) ``boss`` heads."""
    user = portal.user(user_id)
    if user is None:
        return False
    depts = portal.departments
    for dept_id in as_list(user.fields.get("UF_DEPARTMENT")):
        current, seen = as_int(dept_id), set()
        while current in depts and current not in seen:
            seen.add(current)
            if as_int(depts[current].get("UF_HEAD")) == boss:
                return True
            current = as_int(depts[current].get("PARENT"))
    return False


@method("bizproc.task.list", scope="bizproc", list_method=True)
def task_list(ctx: CallContext, params: dict[str, Any]) -> Page:
    """§5.9 + [S] getTaskList: a non-admin sees own tasks; someone else's need admin rights."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)
        flt = {str(k).upper(): v for k, v in (p.get("FILTER") or {}).items()}
        me = ctx.caller.user_id
        if not is_admin(ctx) and "USER_ID" not in flt:
            flt["USER_ID"] = me
        target = as_int(flt.get("USER_ID"), 0)
        if "USER_ID" in flt and target != me and not _subordinate(ctx.portal, me, target):
            require_admin(ctx)
        rows = [r for t in engine.visible_tasks(ctx.portal) for r in _task_rows(ctx.portal, t)]
        rows = _listing(rows, {**p, "FILTER": flt}, {"ID": "desc"})
        rows = _select(
            rows,
            p.get("SELECT"),
            ["ID", "WORKFLOW_ID", "DOCUMENT_NAME", "NAME"],
            ["MODULE_ID", "ENTITY", "DOCUMENT_ID", "DOCUMENT_URL"],
        )
        return paged(rows, params.get("start"))


@method("bizproc.task.complete", scope="bizproc")
def task_complete(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§5.10: only the task's own assignee (admins included) completes it; approval takes 1|2."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)
        if empty(p.get("TASK_ID")):
            raise RestError("ERROR_TASK_VALIDATION", "empty TASK_ID")
        status = _STATUSES.get(str(p.get("STATUS") or "").lower())
        if status is None:
            raise RestError("ERROR_TASK_VALIDATION", "incorrect STATUS")
        task = engine.state(ctx.portal).tasks.get(as_int(p["TASK_ID"], -1))
        me = ctx.caller.user_id
        if task is None or me not in task.users or task not in engine.visible_tasks(ctx.portal):
            raise RestError("ERROR_TASK_NOT_FOUND", "Task not found")
        if task.users[me] != 0 or task.status != 0:
            raise RestError("ERROR_TASK_COMPLETED", "Task already completed")
        if status not in TASK_STATUSES.get(task.activity, ()):
            # §5.10: approval accepts 1|2, review 3; the workflow refuses anything else.
            raise RestError("ERROR_TASK_EXECUTION", "Incorrect task status")
        comment = p.get("COMMENT") if isinstance(p.get("COMMENT"), str) and p.get("COMMENT") else None
        need = task.parameters.get("CommentRequired", "N")
        if comment is None and (
            need == "Y" or (need == "YA" and status == 1) or (need == "YR" and status == 2)
        ):
            raise RestError("ERROR_TASK_EXECUTION", "You must enter a comment")
        engine.complete_task(ctx.portal, task, me, status, comment)
        return True
