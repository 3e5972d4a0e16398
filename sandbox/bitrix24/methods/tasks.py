"""``tasks.task.add`` / ``get`` / ``list`` / ``complete`` / ``delete``: tasks, as used to have employees
read and confirm a document.

Owns the tasks, their camelCase rows, who may see and close them, and the ``ONTASKADD`` /
``ONTASKUPDATE`` / ``ONTASKDELETE`` events. Sources (b24restdocs): api-reference/tasks/tasks-task-add.md
(required TITLE and RESPONSIBLE_ID, ``ERROR_CORE`` texts, answer ``{"task": {...}}`` with string scalars),
tasks-task-list.md (``{"tasks": [...]}`` + ``total``/``next``, filter fields and ``! < <= > >=``, default
order ID desc, ``select``), tasks-task-get.md, status/tasks-task-complete.md (status ``5``, ``closedBy``,
``closedDate``), tasks-task-delete.md (``{"task": true}``), fields.md (status codes 2–6, ``tags``),
events-tasks/on-task-update.md (``FIELDS_BEFORE``/``FIELDS_AFTER`` with the ID only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.bitrix24.core import CallContext, Page, RestError, method
from sandbox.bitrix24.eventbus import emit
from sandbox.bitrix24.procs_common import (
    as_int,
    as_list,
    filter_rows,
    is_admin,
    iso,
    lock,
    now,
    order_rows,
    paged,
    parse_datetime,
    slot,
    upper,
    user_exists,
)

PENDING, COMPLETED = 2, 5
# tasks-task-list.md: the filterable fields, by their upper-case names.
_FILTERABLE = {
    "ID": "id",
    "PARENT_ID": "parentId",
    "GROUP_ID": "groupId",
    "CREATED_BY": "createdBy",
    "RESPONSIBLE_ID": "responsibleId",
    "TITLE": "title",
    "TAG": "tags",
    "REAL_STATUS": "status",
    "STATUS": "status",
    "PRIORITY": "priority",
    "DEADLINE": "deadline",
    "CREATED_DATE": "createdDate",
    "CLOSED_DATE": "closedDate",
    "CHANGED_DATE": "changedDate",
}
_DATES = frozenset({"deadline", "createdDate", "closedDate", "changedDate", "statusChangedDate"})


@dataclass
class TaskState:
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 3701


def _state(portal: Any) -> TaskState:
    return slot(portal, "tasks", TaskState)


def _core(text: str) -> RestError:
    return RestError("ERROR_CORE", text, 400)  # tasks-task-add.md "Error Handling": 400 ERROR_CORE


def _camel(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


def _tags(value: Any) -> list[str]:
    items = as_list(value) if not isinstance(value, str) else value.split(",")
    return [str(t).strip() for t in items if str(t).strip()]


def _row(task: dict[str, Any], select: Any = None) -> dict[str, Any]:
    """Scalars as strings, dates ISO-8601 (tasks-task-add.md example); ``select`` keeps the named fields
    (upper-case field names, ``*`` = all) and always the id."""
    row: dict[str, Any] = {}
    for key, value in task.items():
        if key in _DATES:
            row[key] = iso(value) if value is not None else None
        elif isinstance(value, list | dict) or value is None:
            row[key] = value
        else:
            row[key] = str(value)
    wanted = [str(s).upper() for s in as_list(select)]
    if not wanted or "*" in wanted:
        return row
    keep = {"id"} | {_camel(name) for name in wanted}
    return {k: v for k, v in row.items() if k in keep}


def _may_see(ctx: CallContext, task: dict[str, Any]) -> bool:
    me = ctx.caller.user_id
    people = {task["createdBy"], task["responsibleId"], *map(int, task["accomplices"] + task["auditors"])}
    return is_admin(ctx) or me in people


def _task(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """tasks-task-get.md errors: no ``taskId`` → 100, a non-integer → 0 "wrong task id"; a task the caller
    cannot see answers as one that does not exist (the text is not documented)."""
    raw = upper(params).get("TASKID")
    if raw in (None, ""):
        raise RestError("100", "CTaskItem All parameters in the constructor must have real class type", 400)
    if not str(raw).strip().isdigit():
        raise RestError("0", "wrong task id", 400)
    task = _state(ctx.portal).tasks.get(int(str(raw).strip()))
    if task is None or not _may_see(ctx, task):
        raise _core("Task not found or not accessible")
    return task


@method("tasks.task.add", scope="task")
def task_add(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    fields = upper(params.get("fields") or params.get("FIELDS") or {})
    if not fields:
        raise RestError("100", "Could not find value for parameter {fields}", 400)
    with lock(ctx.portal):
        if not str(fields.get("TITLE") or "").strip():
            raise _core("Task title is not specified")
        if fields.get("RESPONSIBLE_ID") in (None, ""):
            raise _core("Responsible person is not specified")
        responsible = as_int(fields["RESPONSIBLE_ID"], -1)
        if not user_exists(ctx.portal, responsible):
            raise _core('User specified in the "Responsible" field not found')
        status = as_int(fields.get("STATUS"), PENDING)
        if status not in (2, 3, 4, 5, 6):
            raise _core("Incorrect status")
        st = _state(ctx.portal)
        moment = now(ctx.portal)
        task_id = st.next_id
        task: dict[str, Any] = {
            "id": task_id,
            "parentId": fields.get("PARENT_ID") or None,
            "title": str(fields["TITLE"]),
            "description": str(fields.get("DESCRIPTION") or ""),
            "priority": as_int(fields.get("PRIORITY"), 1),
            "groupId": as_int(fields.get("GROUP_ID"), 0),
            "createdBy": as_int(fields.get("CREATED_BY"), ctx.caller.user_id),
            "createdDate": moment,
            "responsibleId": responsible,
            "changedBy": ctx.caller.user_id,
            "changedDate": moment,
            "statusChangedBy": None,
            "statusChangedDate": moment,
            "closedBy": None,
            "closedDate": None,
            "deadline": parse_datetime(fields.get("DEADLINE")),
            "status": status,
            "xmlId": fields.get("XML_ID") or None,
            "accomplices": [str(as_int(u)) for u in as_list(fields.get("ACCOMPLICES"))],
            "auditors": [str(as_int(u)) for u in as_list(fields.get("AUDITORS"))],
            "tags": _tags(fields.get("TAGS")),
            "ufTaskWebdavFiles": [str(f) for f in as_list(fields.get("UF_TASK_WEBDAV_FILES"))],
        }
        st.next_id += 1
        st.tasks[task_id] = task
        data = {  # on-task-add.md
            "FIELDS_BEFORE": "undefined",
            "FIELDS_AFTER": {"ID": task_id},
            "IS_ACCESSIBLE_BEFORE": "N",
            "IS_ACCESSIBLE_AFTER": "undefined",
        }
        emit(ctx.portal, "ONTASKADD", data, acting_user=ctx.caller.user_id, object_id=task_id)
        return {"task": _row(task)}


@method("tasks.task.get", scope="task")
def task_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    with lock(ctx.portal):
        return {"task": _row(_task(ctx, params), upper(params).get("SELECT"))}


def _value(task: dict[str, Any], name: str) -> Any:
    key = _FILTERABLE.get(name)
    if key is None:
        return None
    value = task.get(key)
    return iso(value) if key in _DATES and value is not None else value


@method("tasks.task.list", scope="task", list_method=True)
def task_list(ctx: CallContext, params: dict[str, Any]) -> Page:
    p = upper(params)
    with lock(ctx.portal):
        order = p.get("ORDER") or {"ID": "desc"}  # tasks-task-list.md: by default ID descending
        if not isinstance(order, dict) or any(str(k).upper() not in _FILTERABLE for k in order):
            raise RestError("0", "Invalid sorting key (internal error)", 400)
        visible = [t for t in _state(ctx.portal).tasks.values() if _may_see(ctx, t)]
        conditions = p.get("FILTER") if isinstance(p.get("FILTER"), dict) else {}
        rows = filter_rows(visible, conditions, _value, known=lambda name: name in _FILTERABLE)
        rows = order_rows(rows, order, _value)
        page = paged([_row(t, p.get("SELECT")) for t in rows], p.get("START"))
        return Page(page.items, page.total, page.next, key="tasks")


def _update_event(ctx: CallContext, task_id: int) -> None:
    data = {
        "FIELDS_BEFORE": {"ID": task_id},
        "FIELDS_AFTER": {"ID": task_id},
        "IS_ACCESSIBLE_BEFORE": "undefined",
        "IS_ACCESSIBLE_AFTER": "undefined",
    }
    emit(ctx.portal, "ONTASKUPDATE", data, acting_user=ctx.caller.user_id, object_id=task_id)


@method("tasks.task.complete", scope="task")
def task_complete(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """status/tasks-task-complete.md: the creator, the responsible person and participants may close it."""
    with lock(ctx.portal):
        task = _task(ctx, params)
        me = ctx.caller.user_id
        closers = {task["createdBy"], task["responsibleId"], *(int(u) for u in task["accomplices"])}
        if not (is_admin(ctx) or me in closers):
            raise _core("Action not available")
        if task["status"] != COMPLETED:
            moment = now(ctx.portal)
            task.update(
                status=COMPLETED,
                closedBy=me,
                closedDate=moment,
                changedBy=me,
                changedDate=moment,
                statusChangedBy=me,
                statusChangedDate=moment,
            )
            _update_event(ctx, task["id"])
        return {"task": _row(task)}


@method("tasks.task.delete", scope="task")
def task_delete(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """tasks-task-delete.md: ``{"task": true}``; the creator (or an administrator) deletes."""
    with lock(ctx.portal):
        task = _task(ctx, params)
        if not (is_admin(ctx) or ctx.caller.user_id == task["createdBy"]):
            raise _core("Action not available")
        del _state(ctx.portal).tasks[task["id"]]
        data = {"FIELDS_BEFORE": {"ID": task["id"]}}
        emit(ctx.portal, "ONTASKDELETE", data, acting_user=ctx.caller.user_id)
        return {"task": True}
