"""Saving the portal to a JSON file and loading it back (for the demo; tests keep state in memory).

Owns the file format. Runtime-only things (limits counters, the outbox, the request log) are not saved.
``extensions`` — the method families' state: lists and their elements, business-process templates,
workflows and tasks, Drive storages and files, time tracking, placements, calendar, notifications — are
saved too, so a restarted sandbox (``--state-file``) still has them. Their dataclasses are written as
tagged JSON (``~dc`` class, ``~b64`` bytes, ``~tuple``, ``~items`` for dicts whose keys are not strings);
only classes of the ``sandbox`` package are rebuilt on load.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import logging
from pathlib import Path
from typing import Any

from sandbox.bitrix24.state import Binding, Group, Invitation, Portal, Token, User, Webhook

log = logging.getLogger(__name__)
FORMAT = 1


def _encode(value: Any) -> Any:
    """A family's state as JSON (see the module doc); TypeError for what JSON cannot hold."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        names = [f.name for f in dataclasses.fields(value)]
        state = {name: _encode(getattr(value, name)) for name in names}
        return {"~dc": f"{kind.__module__}:{kind.__qualname__}", "~f": state}
    if isinstance(value, bytes):
        return {"~b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return {"~tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("~") for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"~items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot save {type(value).__name__}")


def _class(path: str) -> type:
    module, _, name = path.partition(":")
    if module != "sandbox" and not module.startswith("sandbox."):
        raise ValueError(f"not a sandbox class: {path}")
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    if not (isinstance(found, type) and dataclasses.is_dataclass(found)):
        raise ValueError(f"not a dataclass: {path}")
    return found


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "~dc" in value:
        kind = _class(str(value["~dc"]))
        made: Any = object.__new__(kind)
        for name, item in value["~f"].items():
            object.__setattr__(made, name, _decode(item))
        return made
    if "~b64" in value:
        return base64.b64decode(value["~b64"])
    if "~tuple" in value:
        return tuple(_decode(v) for v in value["~tuple"])
    if "~items" in value:
        return {_decode(k): _decode(v) for k, v in value["~items"]}
    return {k: _decode(v) for k, v in value.items()}


def dump(portal: Portal) -> dict[str, Any]:
    extensions: dict[str, Any] = {}
    for key, value in portal.extensions.items():
        try:
            extensions[key] = _encode(value)
        except TypeError as exc:
            log.warning("sandbox state not saved for %s: %s", key, exc)
    return {
        "format": FORMAT,
        "member_id": portal.member_id,
        "users": [[u.id, u.fields, u.is_admin, u.registered] for u in portal.users.values()],
        "next_user_id": portal.next_user_id,
        "departments": list(portal.departments.values()),
        "next_department_id": portal.next_department_id,
        "groups": [
            [g.id, g.fields, list(g.members.items()), list(g.requests.items()), g.extranet]
            for g in portal.groups.values()
        ],
        "next_group_id": portal.next_group_id,
        "webhooks": [[w.user_id, w.code, sorted(w.scopes), w.expires_at] for w in portal.webhooks.values()],
        "app": {
            "installed": portal.app.installed,
            "application_token": portal.app.application_token,
            "handler_url": portal.app.handler_url,
        },
        "access_tokens": {k: [t.user_id, t.expires_at] for k, t in portal.access_tokens.items()},
        "refresh_tokens": {k: [t.user_id, t.expires_at] for k, t in portal.refresh_tokens.items()},
        "bindings": [
            [b.id, b.event, b.handler, b.auth_type, b.event_type, b.client_id] for b in portal.bindings
        ],
        "next_binding_id": portal.next_binding_id,
        "offline_events": portal.offline_events,
        "invitations": [
            [i.user_id, i.email, i.sent_at, i.invited_by, i.message, list(i.group_ids)]
            for i in portal.invitations
        ],
        "extensions": extensions,
    }


def restore(portal: Portal, data: dict[str, Any]) -> None:
    portal.reset()
    portal.member_id = data["member_id"]
    portal.users.clear()
    portal.by_email.clear()
    portal.by_xml_id.clear()
    portal._user_ids.clear()
    for uid, fields, is_admin, registered in data["users"]:
        user = User(int(uid), fields, is_admin, registered)
        portal.users[user.id] = user
        portal._user_ids.append(user.id)
        portal._index(user)
    portal.next_user_id = data["next_user_id"]
    portal.departments = {int(d["ID"]): d for d in data["departments"]}
    portal.next_department_id = data["next_department_id"]
    portal.groups = {
        int(gid): Group(
            int(gid), fields, {int(u): r for u, r in members}, {int(u): i for u, i in requests}, ext
        )
        for gid, fields, members, requests, ext in data["groups"]
    }
    portal.next_group_id = data["next_group_id"]
    portal.webhooks = {
        (int(uid), code): Webhook(int(uid), code, frozenset(scopes), exp)
        for uid, code, scopes, exp in data["webhooks"]
    }
    portal.app.installed = data["app"]["installed"]
    portal.app.application_token = data["app"]["application_token"]
    portal.app.handler_url = data["app"]["handler_url"]
    portal.access_tokens = {k: Token(int(u), e) for k, (u, e) in data["access_tokens"].items()}
    portal.refresh_tokens = {k: Token(int(u), e) for k, (u, e) in data["refresh_tokens"].items()}
    portal.bindings = [Binding(*row) for row in data["bindings"]]
    portal.next_binding_id = data["next_binding_id"]
    portal.offline_events = data["offline_events"]
    portal.invitations = [Invitation(u, e, s, b, m, tuple(g)) for u, e, s, b, m, g in data["invitations"]]
    for key, value in data.get("extensions", {}).items():
        try:
            portal.extensions[key] = _decode(value)
        except (ValueError, AttributeError, ImportError, TypeError) as exc:
            log.warning("sandbox state not restored for %s: %s", key, exc)


def save_state(portal: Portal, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(dump(portal)), encoding="utf-8")
    tmp.replace(path)
    log.info("sandbox state saved users=%d", len(portal.users))


def load_state(portal: Portal, path: Path) -> None:
    restore(portal, json.loads(path.read_text(encoding="utf-8")))
    log.info("sandbox state loaded users=%d", len(portal.users))
