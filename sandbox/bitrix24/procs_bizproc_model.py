"""Business-process records: templates, app-registered activities, workflow instances, tasks; expressions.

Owns the data the interpreter (bizproc_engine.py) works on, the sandbox-only ``install_template`` (how a
test or the demo installs a template, clearly apart from REST), and the evaluation of ``{=Scope:Key}``
values. The template format is described in bizproc_engine.py. It must not run workflows.
Sources: ../shared/reference/bitrix24-rest.md §5.6–§5.14.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.bitrix24 import procs_lists_model as documents
from sandbox.bitrix24.procs_common import as_int, as_list, lock, now, slot

ON_CREATE, ON_EDIT = 1, 2  # bizproc-workflow-template-add.md AUTO_EXECUTE bits.
TASK_KEEP_SECONDS = 86400  # bitrix24-rest.md §5.9: the cloud keeps task info one day after the end.
STEP_TYPES = {"rest", "approve", "review", "set_field", "notify", "stop", "if"}  # "if": bpt.py
# bitrix24-rest.md §5.10: the STATUS values each task activity accepts.
TASK_STATUSES = {"ApproveActivity": (1, 2), "ReviewActivity": (3,)}


@dataclass
class Template:
    id: int
    name: str
    document_type: list[str]
    auto_execute: int
    steps: list[dict[str, Any]]
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    user_id: int = 1
    system_code: str | None = None
    modified: float = 0.0


@dataclass
class Activity:
    """A REST activity or robot registered by an application (bizproc.activity.add / bizproc.robot.add)."""

    app_id: str
    code: str
    handler: str
    name: Any
    is_robot: bool
    auth_user_id: int = 0
    use_subscription: str = ""
    description: Any = ""
    properties: dict[str, Any] = field(default_factory=dict)
    return_properties: dict[str, Any] = field(default_factory=dict)
    document_type: list[str] | None = None
    filter: Any = None
    use_placement: str = "N"
    placement_handler: str | None = None
    app_token: str = ""
    """The app's application_token when it registered; a reinstall or update issues a new one."""


@dataclass
class Task:
    id: int
    workflow_id: str
    activity_name: str
    name: str
    description: str
    users: dict[int, int]
    """user id → USER_STATUS (0 waiting, 1 approved, 2 rejected, 3 completed; bitrix24-rest.md §5.9)."""
    approve_type: str = "any"
    status: int = 0
    """STATUS: 0 in progress, 1 approved, 2 rejected, 3 completed, 4 overdue (bitrix24-rest.md §5.9)."""
    activity: str = "ApproveActivity"
    parameters: dict[str, Any] = field(default_factory=dict)
    modified: float = 0.0
    overdue_at: float | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Workflow:
    id: str
    template_id: int
    document_id: list[str]
    document_type: list[str]
    started: float
    started_by: int
    modified: float
    queue: list[dict[str, Any]]
    parameters: dict[str, Any] = field(default_factory=dict)
    state: str = "running"
    """running | completed | terminated"""
    status_text: str = ""
    waiting: dict[str, Any] | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    finished: float | None = None


@dataclass
class BizprocState:
    templates: dict[int, Template] = field(default_factory=dict)
    activities: dict[tuple[str, str], Activity] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    next_template: int = 501
    next_task: int = 1401


def state(portal: Any) -> BizprocState:
    st = slot(portal, "bizproc", BizprocState)
    # [S] RestService::onRestAppDelete / onRestAppUpdate + bizproc-activity-delete.md: deleting or updating
    # the app removes its activities and robots; its installer must register them again.
    token = portal.app.application_token
    stale = [key for key, a in st.activities.items() if a.app_token != token or not portal.app.installed]
    for key in stale:
        del st.activities[key]
    return st


# -- templates ----------------------------------------------------------------------------------------
def _check_steps(steps: Any, names: set[str]) -> None:
    if not isinstance(steps, list):
        raise ValueError("steps must be a list")
    for step in steps:
        if not isinstance(step, dict) or step.get("type") not in STEP_TYPES:
            raise ValueError(f"unknown step: {step!r}")
        name = str(step.get("name") or "")
        if step["type"] in ("rest", "approve", "review"):
            if not name or name in names:
                raise ValueError(f"step {step['type']} needs a unique name, got {name!r}")
            names.add(name)
        if step["type"] == "rest" and not step.get("code"):
            raise ValueError("a rest step needs the activity code")
        for branch in ("approved", "rejected"):
            if branch in step:
                _check_steps(step[branch], names)
        for alternative in step.get("branches") or []:
            _check_steps(alternative.get("steps"), names)


def install_template(
    portal: Any,
    *,
    name: str,
    document_type: list[str],
    steps: list[dict[str, Any]],
    auto_execute: int = 0,
    description: str = "",
    parameters: dict[str, Any] | None = None,
    constants: dict[str, Any] | None = None,
    user_id: int = 1,
    system_code: str | None = None,
) -> int:
    """Sandbox-only (not REST): install a template the way an admin would in the designer; returns its id."""
    _check_steps(steps, set())
    if auto_execute not in (0, 1, 2, 3):
        raise ValueError("auto_execute must be 0..3")
    with lock(portal):
        st = state(portal)
        template = Template(
            st.next_template,
            name,
            list(document_type),
            auto_execute,
            steps,
            description,
            dict(parameters or {}),
            dict(constants or {}),
            {},
            user_id,
            system_code,
            now(portal),
        )
        st.next_template += 1
        st.templates[template.id] = template
        return template.id


# -- expressions --------------------------------------------------------------------------------------
_EXPR = re.compile(r"\{=([A-Za-z0-9_]+):([A-Za-z0-9_]+)\}")


def _lookup(portal: Any, wf: Workflow, scope: str, key: str) -> Any:
    if scope == "Document":
        return documents.read_field(portal, wf.document_id, key)
    if scope == "Template":
        return wf.parameters.get(key)
    if scope == "Constant":
        template = state(portal).templates.get(wf.template_id)
        constant = template.constants.get(key) if template else None
        return constant.get("Default") if isinstance(constant, dict) else constant
    return wf.outputs.get(scope, {}).get(key)


def resolve(portal: Any, wf: Workflow, value: Any) -> Any:
    """Replace ``{=Scope:Key}`` expressions; a value that is one expression keeps its type (e.g. a list)."""
    if isinstance(value, dict):
        return {k: resolve(portal, wf, v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(portal, wf, v) for v in value]
    if not isinstance(value, str):
        return value
    whole = _EXPR.fullmatch(value.strip())
    if whole:
        return _lookup(portal, wf, whole.group(1), whole.group(2))

    def text(match: re.Match[str]) -> str:
        found = _lookup(portal, wf, match.group(1), match.group(2))
        return (
            ", ".join(str(v) for v in found)
            if isinstance(found, list)
            else str(found if found is not None else "")
        )

    return _EXPR.sub(text, value)


def user_ids(portal: Any, wf: Workflow, value: Any) -> list[int]:
    """``5``, ``"user_5"``, ``"5"``, lists of those, or expressions yielding them."""
    out: list[int] = []
    items: list[Any] = []
    for item in as_list(resolve(portal, wf, value)):
        items.extend(as_list(item) if isinstance(item, list) else [item])
    for item in items:
        text = str(item).strip()
        number = as_int(text[5:] if text.startswith("user_") else text, 0)
        if number > 0 and number not in out:
            out.append(number)
    return out
