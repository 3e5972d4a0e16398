"""Real ``.bpt`` workflow templates: unpacked as Bitrix24 does and turned into the interpreter's steps.

A ``.bpt`` is PHP ``serialize()`` of ``{VERSION, TEMPLATE, PARAMETERS, VARIABLES, CONSTANTS,
DOCUMENT_FIELDS}``, usually ``gzcompress``-ed; Bitrix24 tries the bytes as they are, then uncompressed
([S] Bitrix\\Bizproc\\Workflow\\Template\\Packer\\Bpt::unpack; a file without TEMPLATE is "wrong data").
TEMPLATE's root (SequentialWorkflowActivity) holds designer activities ``{Type, Name, Properties,
Children}``; those the sandbox runs map onto bizproc_engine.py's steps:

* SequenceActivity → its children in order; SetFieldActivity → ``set_field`` per ``FieldValue`` entry;
* IMNotifyActivity → ``notify`` (``MessageUserTo``, ``MessageSite``);
* ApproveActivity / ReviewActivity → ``approve`` / ``review``: ``Users``, ``ApproveType``, the task
  ``Name`` and ``Description``, ``CommentRequired``, ``TimeoutDuration`` × ``TimeoutDurationType``
  (s/m/h/d); the first SequenceActivity child runs on approval, the second on rejection or time-out
  ([S] CBPApproveActivity);
* IfElseActivity → ``if``: its IfElseBranchActivity children in order, the first whose condition holds
  runs — ``mixedcondition`` rows ``{object, field, operator, value, joiner}``, ``fieldcondition`` rows
  ``[field, operator, value, joiner]`` on the document, ``truecondition`` (or none) always
  ([S] CBPMixedCondition, CBPIfElseActivity);
* TerminateActivity → ``stop``;
* ``rest_<md5(client_id@CODE)>`` → ``rest`` of the app's activity with that internal code ([S]
  RestService::generateInternalCode, CBPRuntime::REST_ACTIVITY_PREFIX), its declared properties taken
  from the node, ``UseSubscription`` and the time-out likewise ([S] CBPRestActivity). An activity that is
  not registered still installs and fails the workflow when reached, as CBPRestActivity::execute throws.

Any other activity type is refused with ERROR_TEMPLATE_VALIDATION_FAILURE rather than silently skipped.
DOCUMENT_FIELDS are not created on the list (Bitrix24 adds missing ones on import; create them with
``lists.field.add``).
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from typing import Any

import phpserialize

from sandbox.bitrix24.procs_bizproc_model import Workflow, resolve, state
from sandbox.bitrix24.procs_common import as_int, as_list

REST_PREFIX = "rest_"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_REST_OWN = {
    "Title",
    "UseSubscription",
    "IsTimeout",
    "AuthUserId",
    "SetStatusMessage",
    "StatusMessage",
    "TimeoutDuration",
    "TimeoutDurationType",
}


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        items = {k: _lists(v) for k, v in value.items()}
        return list(items.values()) if items and list(items) == list(range(len(items))) else items
    return value


def unpack(raw: bytes) -> dict[str, Any] | None:
    """The unserialized array, or None when the bytes are not a template file."""
    for unpack_ in (lambda b: b, zlib.decompress, gzip.decompress):
        try:
            datum = phpserialize.loads(unpack_(raw), decode_strings=True)
        except (OSError, EOFError, zlib.error, ValueError, IndexError, TypeError):
            continue
        if isinstance(datum, dict) and "TEMPLATE" in datum:
            result: dict[str, Any] = _lists(datum)
            return result
    return None


def template_data(portal: Any, raw: bytes) -> dict[str, Any] | None:
    """``{steps, parameters, constants, variables}`` for install_template; None when not a ``.bpt``.

    ValueError when the file holds an activity the sandbox cannot run.
    """
    datum = unpack(raw)
    if datum is None:
        return None
    roots = as_list(datum.get("TEMPLATE"))
    steps = _steps(portal, as_list(roots[0].get("Children")) if roots else [])
    return {
        "steps": steps,
        "parameters": _dict(datum.get("PARAMETERS")),
        "constants": _dict(datum.get("CONSTANTS")),
        "variables": _dict(datum.get("VARIABLES")),
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _seconds(props: dict[str, Any]) -> int:
    return as_int(props.get("TimeoutDuration"), 0) * _UNITS.get(str(props.get("TimeoutDurationType")), 1)


def _steps(portal: Any, nodes: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for node in nodes:
        out.extend(_node(portal, node))
    return out


def _branch(portal: Any, children: list[Any], index: int) -> list[dict[str, Any]]:
    return _steps(portal, as_list(children[index].get("Children"))) if len(children) > index else []


def _node(portal: Any, node: Any) -> list[dict[str, Any]]:
    if not isinstance(node, dict):
        raise ValueError("an activity must be an array")
    kind, name = str(node.get("Type") or ""), str(node.get("Name") or "")
    props = _dict(node.get("Properties"))
    children = as_list(node.get("Children"))
    if kind == "SequenceActivity":
        return _steps(portal, children)
    if kind == "SetFieldActivity":
        return [
            {"type": "set_field", "field": k, "value": v} for k, v in _dict(props.get("FieldValue")).items()
        ]
    if kind == "IMNotifyActivity":
        return [{"type": "notify", "to": props.get("MessageUserTo"), "message": props.get("MessageSite", "")}]
    if kind in ("ApproveActivity", "ReviewActivity"):
        step = {
            "type": "approve" if kind == "ApproveActivity" else "review",
            "name": name,
            "title": props.get("Name") or props.get("Title") or name,
            "description": props.get("Description") or "",
            "users": props.get("Users"),
            "approve_type": props.get("ApproveType") or "any",
            "comment_required": props.get("CommentRequired") or "N",
            "timeout": _seconds(props),
        }
        if kind == "ApproveActivity":
            if step["approve_type"] not in ("any", "all"):
                raise ValueError(f"{name}: approval type {step['approve_type']!r} is not supported")
            step["approved"], step["rejected"] = _branch(portal, children, 0), _branch(portal, children, 1)
        return [step]
    if kind == "IfElseActivity":
        branches = [
            {"when": _condition(b), "steps": _steps(portal, as_list(b.get("Children")))} for b in children
        ]
        return [{"type": "if", "name": name, "branches": branches}]
    if kind == "TerminateActivity":
        return [{"type": "stop", "status": props.get("StateTitle") or "Terminated"}]
    if kind.startswith(REST_PREFIX):
        return [_rest(portal, kind, name, props)]
    raise ValueError(f"activity type {kind!r} is not supported by the sandbox")


def _condition(branch: Any) -> list[dict[str, Any]] | None:
    props = _dict(branch.get("Properties")) if isinstance(branch, dict) else {}
    if "mixedcondition" in props:
        return [dict(row) for row in as_list(props["mixedcondition"])]
    if "fieldcondition" in props:
        rows = [as_list(row) for row in as_list(props["fieldcondition"])]
        return [
            {
                "object": "Document",
                "field": r[0],
                "operator": r[1],
                "value": r[2],
                "joiner": r[3] if len(r) > 3 else 0,
            }
            for r in rows
        ]
    if "truecondition" in props or not props.keys() - {"Title"}:
        return None
    raise ValueError(f"branch condition {sorted(props)} is not supported by the sandbox")


def _rest(portal: Any, kind: str, name: str, props: dict[str, Any]) -> dict[str, Any]:
    internal = kind[len(REST_PREFIX) :]
    activity = next(
        (
            a
            for a in state(portal).activities.values()
            if not a.is_robot
            and hashlib.md5(f"{a.app_id}@{a.code}".encode(), usedforsecurity=False).hexdigest() == internal
        ),
        None,
    )
    declared = set(activity.properties) if activity else set(props) - _REST_OWN
    return {
        "type": "rest",
        "name": name,
        "code": activity.code if activity else kind,
        "properties": {k: v for k, v in props.items() if k in declared},
        "use_subscription": props.get("UseSubscription") or "",
        "timeout": _seconds(props),
    }


# -- running ``if`` steps -------------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


def _holds(portal: Any, wf: Workflow, row: dict[str, Any]) -> bool:
    """One condition row ([S] Bizproc\\Activity\\Condition: =, !=, >, >=, <, <=, empty, !empty, contain)."""
    actual = resolve(portal, wf, f"{{={row.get('object')}:{row.get('field')}}}")
    expected = resolve(portal, wf, row.get("value"))
    op = str(row.get("operator") or "=")
    if op in ("empty", "!empty"):
        empty = actual in (None, "", [], 0, "0")
        return empty if op == "empty" else not empty
    if op in ("contain", "!contain"):
        found = str(expected) in (
            actual if isinstance(actual, list) else str(actual if actual is not None else "")
        )
        return found if op == "contain" else not found
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        left_s, right_s = (
            str(actual if actual is not None else ""),
            str(expected if expected is not None else ""),
        )
        comparisons = {"=": left_s == right_s, "!=": left_s != right_s}
        return comparisons.get(op, False)
    return {
        "=": left == right,
        "!=": left != right,
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }.get(op, False)


def branch(portal: Any, wf: Workflow, step: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of the first branch whose condition holds (rows joined left to right: joiner 0 AND, 1 OR)."""
    for candidate in step.get("branches") or []:
        rows = candidate.get("when")
        if rows is None:
            return list(candidate.get("steps") or [])
        result = _holds(portal, wf, rows[0]) if rows else True
        for row in rows[1:]:
            held = _holds(portal, wf, row)
            result = (result or held) if as_int(row.get("joiner"), 0) else (result and held)
        if result:
            return list(candidate.get("steps") or [])
    return []
