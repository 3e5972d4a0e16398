"""``bizproc.activity.*``, ``bizproc.robot.*``, ``bizproc.event.send``: what an app registers and answers.

Owns the registration rules of REST activities and robots (app context, admin, CODE/HANDLER/PROPERTIES
checks, one code per app across both kinds) and the token checks of ``bizproc.event.send`` and
``bizproc.activity.log``. Running the workflow that waits for the answer is bizproc_engine.py's job.
Sources: ../shared/reference/bitrix24-rest.md §5.11–§5.14, §9.1; api-reference/bizproc/bizproc-activity/**,
bizproc-robot/**; [S] Bitrix\\Bizproc\\RestService (messages where the docs are silent).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.methods.bizproc import document_type_ok, require_admin, require_app_context
from sandbox.bitrix24.procs_bizproc_callout import read_token
from sandbox.bitrix24.procs_common import as_int, as_list, empty, lock, upper


# -- activities and robots ----------------------------------------------------------------------------
def _deep_upper(value: Any) -> Any:
    # [S] prepareActivityData: keys upper-cased, except the property names under PROPERTIES/RETURN_PROPERTIES.
    if not isinstance(value, dict):
        return value
    return {
        str(k).upper(): (
            _props(v) if str(k).upper() in ("PROPERTIES", "RETURN_PROPERTIES") else _deep_upper(v)
        )
        for k, v in value.items()
    }


def _props(value: Any) -> Any:
    return {k: _deep_upper(v) for k, v in value.items()} if isinstance(value, dict) else value


def _check_code(code: Any) -> str:
    if empty(code):
        raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity code!")
    if not isinstance(code, str) or not re.fullmatch(r"[a-z0-9.\-_]+", code, re.I):
        raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity code!")
    return code


def _check_handler(ctx: CallContext, url: Any) -> str:
    """§5.11: HANDLER http(s), on the installed application's domain ([S] HandlerHelper::checkCallback)."""
    parsed = urlparse(str(url or ""))
    if parsed.scheme not in ("http", "https"):
        raise RestError("ERROR_UNSUPPORTED_PROTOCOL", "Unsupported handler protocol")
    if not parsed.hostname:
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
    app_url = getattr(ctx.portal.app, "handler_url", None)
    if app_url and urlparse(app_url).hostname != parsed.hostname:
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL")
    return str(url)


def _check_props(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong properties array!")
    for key, prop in value.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(key), re.I):
            raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", f"Wrong property key ({key})!")
        if not isinstance(prop, dict) or empty(prop.get("NAME")):
            raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", f"Empty property NAME ({key})!")
    return value


def _add_activity(ctx: CallContext, params: dict[str, Any], robot: bool) -> bool:
    p = _deep_upper(dict(params))
    with lock(ctx.portal):
        require_app_context(ctx)
        require_admin(ctx)
        if not p:
            raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty data!")
        code = _check_code(p.get("CODE"))
        handler = _check_handler(ctx, p.get("HANDLER"))
        if empty(p.get("NAME")):
            raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "Empty activity NAME!")
        props = _check_props(p["PROPERTIES"]) if "PROPERTIES" in p else {}
        returns = _check_props(p["RETURN_PROPERTIES"]) if "RETURN_PROPERTIES" in p else {}
        if not robot and "DOCUMENT_TYPE" in p and not document_type_ok(p["DOCUMENT_TYPE"]):
            raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity DOCUMENT_TYPE!")
        if "FILTER" in p and not isinstance(p["FILTER"], dict | list):
            raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity FILTER!")
        placement = "Y" if p.get("USE_PLACEMENT") == "Y" else "N"
        if placement == "Y":
            _check_handler(ctx, p.get("PLACEMENT_HANDLER"))
        st = engine.state(ctx.portal)
        key = (str(ctx.caller.client_id), code)
        if key in st.activities:  # [S] one table for activities and robots, keyed by app + code.
            raise RestError("ERROR_ACTIVITY_ALREADY_INSTALLED", "Activity or Robot already installed!")
        st.activities[key] = engine.Activity(
            key[0],
            code,
            handler,
            p["NAME"],
            robot,
            as_int(p.get("AUTH_USER_ID")),
            str(p.get("USE_SUBSCRIPTION") or ""),
            p.get("DESCRIPTION") or "",
            props,
            returns,
            as_list(p.get("DOCUMENT_TYPE")) or None,
            p.get("FILTER"),
            placement,
            p.get("PLACEMENT_HANDLER"),
            ctx.portal.app.application_token,
        )
        return True


def _find(ctx: CallContext, p: dict[str, Any], robot: bool) -> engine.Activity:
    code = _check_code(p.get("CODE"))
    found = engine.state(ctx.portal).activities.get((str(ctx.caller.client_id), code))
    if found is None or found.is_robot != robot:
        raise RestError("ERROR_ACTIVITY_NOT_FOUND", "Activity or Robot not found!")
    return found


def _update_activity(ctx: CallContext, params: dict[str, Any], robot: bool) -> bool:
    p = _deep_upper(dict(params))
    with lock(ctx.portal):
        require_app_context(ctx)
        require_admin(ctx)
        activity = _find(ctx, p, robot)
        fields = p.get("FIELDS")
        if not isinstance(fields, dict) or not fields:
            raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "No fields to update")
        changes: dict[str, Any] = {}
        if "HANDLER" in fields:
            changes["handler"] = _check_handler(ctx, fields["HANDLER"])
        if "AUTH_USER_ID" in fields:
            changes["auth_user_id"] = as_int(fields["AUTH_USER_ID"])
        if "USE_SUBSCRIPTION" in fields:
            changes["use_subscription"] = str(fields["USE_SUBSCRIPTION"])
        if not empty(fields.get("NAME")):
            changes["name"] = fields["NAME"]
        if "DESCRIPTION" in fields:
            changes["description"] = fields["DESCRIPTION"]
        for src, dst in (("PROPERTIES", "properties"), ("RETURN_PROPERTIES", "return_properties")):
            if src in fields:
                changes[dst] = _check_props(fields[src])
        if "DOCUMENT_TYPE" in fields:
            if not empty(fields["DOCUMENT_TYPE"]) and not document_type_ok(fields["DOCUMENT_TYPE"]):
                raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "Wrong activity DOCUMENT_TYPE!")
            changes["document_type"] = as_list(fields["DOCUMENT_TYPE"]) or None
        if not changes:
            raise RestError("ERROR_ACTIVITY_VALIDATION_FAILURE", "No fields to update")
        for name, value in changes.items():
            setattr(activity, name, value)
        return True


def _delete_activity(ctx: CallContext, params: dict[str, Any], robot: bool) -> bool:
    p = upper(params)
    with lock(ctx.portal):
        require_app_context(ctx)
        require_admin(ctx)
        activity = _find(ctx, p, robot)
        del engine.state(ctx.portal).activities[(activity.app_id, activity.code)]
        return True


def _list_activities(ctx: CallContext, robot: bool) -> list[str]:
    with lock(ctx.portal):
        require_app_context(ctx)
        require_admin(ctx)
        acts = engine.state(ctx.portal).activities.values()
        return [a.code for a in acts if a.app_id == str(ctx.caller.client_id) and a.is_robot == robot]


@method("bizproc.activity.add", scope="bizproc", app_only=True)
def activity_add(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§5.11: admin + application context; HANDLER on the app's domain."""
    return _add_activity(ctx, params, robot=False)


@method("bizproc.activity.update", scope="bizproc", app_only=True)
def activity_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    """bizproc-activity-update.md: CODE*, FIELDS*."""
    return _update_activity(ctx, params, robot=False)


@method("bizproc.activity.delete", scope="bizproc", app_only=True)
def activity_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    """bizproc-activity-delete.md: CODE*."""
    return _delete_activity(ctx, params, robot=False)


@method("bizproc.activity.list", scope="bizproc", app_only=True)
def activity_list(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """bizproc-activity-list.md: the calling app's activity codes."""
    return _list_activities(ctx, robot=False)


@method("bizproc.robot.add", scope="bizproc", app_only=True)
def robot_add(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§5.14: same parameters as bizproc.activity.add."""
    return _add_activity(ctx, params, robot=True)


@method("bizproc.robot.update", scope="bizproc", app_only=True)
def robot_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    return _update_activity(ctx, params, robot=True)


@method("bizproc.robot.delete", scope="bizproc", app_only=True)
def robot_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    """bizproc-robot-delete.md: CODE*."""
    return _delete_activity(ctx, params, robot=True)


@method("bizproc.robot.list", scope="bizproc", app_only=True)
def robot_list(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    return _list_activities(ctx, robot=True)


# -- events -------------------------------------------------------------------------------------------
def _token(ctx: CallContext, p: dict[str, Any]) -> tuple[str, str, str]:
    parts = read_token(ctx.portal, p.get("EVENT_TOKEN"))
    if parts is None:
        raise RestError("ACCESS_DENIED", "Access denied!", 403)  # §5.13
    return parts


@method("bizproc.event.send", scope="bizproc")
def event_send(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§5.13: any user; EVENT_TOKEN*, RETURN_VALUES (keys ⊆ RETURN_PROPERTIES), LOG_MESSAGE."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)
        wf_id, name, event_id = _token(ctx, p)
        values: dict[str, Any] = p["RETURN_VALUES"] if isinstance(p.get("RETURN_VALUES"), dict) else {}
        engine.send_event(
            ctx.portal, wf_id, name, event_id, dict(values), str(p.get("LOG_MESSAGE") or ""), False
        )
        return True


@method("bizproc.activity.log", scope="bizproc")
def activity_log(ctx: CallContext, params: dict[str, Any]) -> bool:
    """bizproc-activity-log.md: EVENT_TOKEN*, LOG_MESSAGE*; the activity keeps waiting."""
    p = upper(params)
    with lock(ctx.portal):
        wf_id, name, event_id = _token(ctx, p)
        if empty(p.get("LOG_MESSAGE")):
            raise RestError("ERROR_EMPTY_LOG_MESSAGE", "Empty log message!")
        engine.send_event(ctx.portal, wf_id, name, event_id, {}, str(p["LOG_MESSAGE"]), True)
        return True
