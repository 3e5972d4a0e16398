"""The JSON knobs under ``/_sandbox/…``: the clock, mutations, inspection, faults, review settings, reset.

Owns the knob routes and their JSON: inputs and mutation results use camelCase keys; records, requests
and timesheets come back with their field names (snake_case); dates are ISO strings. Not part of
the 1C contract: tests and the demo drive the sandbox with it (sandbox/onec/testing.py wraps it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sandbox.onec import mutations, requests
from sandbox.onec.faults import Fault
from sandbox.onec.model import ENTITIES, RequestDoc, TimesheetDoc
from sandbox.onec.state import SandboxState

Handler = Callable[[SandboxState, dict[str, Any]], Any]


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return len(value)
    return value


def _request_json(q: RequestDoc) -> dict[str, Any]:
    out = jsonable(q)
    out["file"] = len(q.file) if q.file else None
    return dict(out)


def _timesheet_json(t: TimesheetDoc) -> dict[str, Any]:
    out = dict(jsonable(t))
    out["rows"] = {emp: [[d.isoformat(), k, str(h)] for d, k, h in days] for emp, days in t.rows.items()}
    return out


def _advance(state: SandboxState, body: dict[str, Any]) -> Any:
    seconds = float(body.get("seconds", 0)) + 86400 * float(body.get("days", 0))
    state.clock.advance(seconds)
    requests.review_due(state)
    return state.clock.as_json()


def _reset(state: SandboxState, body: dict[str, Any]) -> Any:
    state.regenerate(
        int(body.get("seed", state.config.seed)), int(body.get("employees", state.config.employees))
    )
    return _stats(state, {})


def _stats(state: SandboxState, _body: dict[str, Any]) -> Any:
    c = state.company
    return {
        "seed": state.config.seed,
        "counts": {e: len(c.tables[e]) for e in ENTITIES},
        "timesheets": len(c.timesheets),
        "feed": state.feed.stats(),
        "calls": dict(state.calls),
        "clock": state.clock.as_json(),
    }


def _pick(state: SandboxState, query: dict[str, Any]) -> Any:
    """Sample records for a test: ``entity``, ``n``, and for employees ``active``/``kind``/``dismissed``."""
    entity = query.get("entity", "Employee")
    if entity not in ENTITIES:
        raise mutations.MutationError(f"unknown entity {entity!r}")
    n = int(query.get("n", 1))
    today = state.today()
    rows: list[Any] = list(state.company.tables[entity].by_ref.values())
    if entity == "Employee":
        active = query.get("active")
        if active is not None:
            want = str(active).lower() == "true"
            rows = [e for e in rows if e.is_active_on(today) == want]
        if query.get("kind"):
            rows = [e for e in rows if e.kind == query["kind"]]
    picked = rows[:n]
    return [_record(entity, r, today) for r in picked]


def _record(entity: str, obj: Any, today: date) -> dict[str, Any]:
    out = dict(jsonable(obj))
    if entity == "Employee":
        out["current"] = jsonable(obj.placement(today))
        out["archived"] = obj.archived(today)
    if entity == "Request":
        out = _request_json(obj)
    return out


def _get_record(state: SandboxState, query: dict[str, Any]) -> Any:
    entity, ref = query.get("entity", ""), query.get("ref", "")
    table = state.company.tables.get(entity)
    if table is None or ref not in table.by_ref:
        raise mutations.MutationError(f"{entity} {ref!r} not found", 404)
    return _record(entity, table.by_ref[ref], state.today())


def _faults_add(state: SandboxState, body: dict[str, Any]) -> Any:
    ops = body.get("operations")
    fault = Fault(
        kind=str(body.get("kind")),
        operations=frozenset(ops) if ops else None,
        count=body.get("count", 1),
        delay_seconds=float(body.get("delaySeconds", 2.0)),
        message=body.get("message"),
    )
    try:
        state.faults.add(fault)
    except ValueError as exc:
        raise mutations.MutationError(str(exc)) from None
    return [f.as_json() for f in state.faults.faults]


def _faults_clear(state: SandboxState, _body: dict[str, Any]) -> Any:
    state.faults.clear()
    return []


def _review(state: SandboxState, body: dict[str, Any]) -> Any:
    if "delaySeconds" in body:
        state.review.delay_seconds = float(body["delaySeconds"])
    if "decision" in body:
        if body["decision"] not in ("auto", "approve", "reject"):
            raise mutations.MutationError("decision is auto | approve | reject")
        state.review.decision = body["decision"]
    return jsonable(state.review)


def _decide(state: SandboxState, body: dict[str, Any]) -> Any:
    q = state.company.requests_by_id.get(str(body.get("requestId")))
    if q is None:
        raise mutations.MutationError("request not found", 404)
    decision = body.get("decision", "Approved")
    if decision not in ("Approved", "Rejected"):
        raise mutations.MutationError("decision is Approved | Rejected")
    q.forced = (decision, body.get("reason") or (None if decision == "Approved" else "Отклонено"))
    if body.get("now", True):
        q.decide_at = min(q.decide_at, state.now())
    requests.review_due(state)
    return _request_json(q)


def _cancel_absence(state: SandboxState, body: dict[str, Any]) -> Any:
    ref = body.get("absenceRef")
    if ref not in state.company.absences:
        raise mutations.MutationError("absence not found", 404)
    requests.cancel_absence(state, str(ref))
    return {"absenceRef": ref, "deleted": True}


POST: dict[str, Handler] = {
    "clock/advance": _advance,
    "reset": _reset,
    "hire": mutations.hire,
    "rehire": mutations.rehire,
    "transfer": mutations.transfer,
    "dismiss": mutations.dismiss,
    "person": mutations.edit_person,
    "absence": mutations.add_absence,
    "absence/cancel": _cancel_absence,
    "department": mutations.add_department,
    "department/disband": mutations.disband_department,
    "churn": mutations.churn,
    "faults": _faults_add,
    "faults/clear": _faults_clear,
    "review": _review,
    "requests/decide": _decide,
}
GET: dict[str, Handler] = {
    "health": lambda s, q: {"ok": True},
    "clock": lambda s, q: s.clock.as_json(),
    "stats": _stats,
    "feed": lambda s, q: s.feed.stats(),
    "pick": _pick,
    "record": _get_record,
    "faults": lambda s, q: [f.as_json() for f in s.faults.faults],
    "review": lambda s, q: jsonable(s.review),
    "requests": lambda s, q: [_request_json(r) for r in s.company.requests_by_id.values()],
    "timesheets": lambda s, q: [_timesheet_json(t) for t in s.company.timesheets.values()],
}


def handle(state: SandboxState, method: str, route: str, payload: dict[str, Any]) -> tuple[int, Any]:
    """Dispatch one knob call; returns (HTTP status, JSON-able body)."""
    table = POST if method == "POST" else GET if method == "GET" else None
    handler = table.get(route) if table is not None else None
    if handler is None:
        return 404, {"error": f"no knob {method} /_sandbox/{route}"}
    requests.review_due(state)
    try:
        return 200, handler(state, payload)
    except mutations.MutationError as exc:
        return exc.status, {"error": str(exc)}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"error": f"bad knob input: {exc}"}
