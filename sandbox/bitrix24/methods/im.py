"""``im.notify.system.add`` / ``im.notify.personal.add``: notifications, kept inspectable for tests.

Owns the notification records (also written by workflow "notify" steps) and the documented parameter
errors. ``notifications(portal, user_id)`` is the sandbox-only way to read what a user was told.
Sources: ../shared/reference/bitrix24-rest.md §10.1; api-reference/chats/notifications/im-notify-*-add.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.procs_common import as_int, lock, now, slot, upper

ATTACH_MAX = 60_000  # im-notify-system-add.md: ATTACH_OVERSIZE above 60 000 characters.


@dataclass
class ImState:
    items: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 12001


def _state(portal: Any) -> ImState:
    return slot(portal, "im", ImState)


def add_notification(
    portal: Any,
    user_id: int,
    message: str,
    *,
    from_user: int,
    kind: str = "system",
    message_out: str | None = None,
    tag: str | None = None,
    sub_tag: str | None = None,
    attach: Any = None,
    app: str = "",
) -> int:
    """Store one notification; a TAG replaces the app's older notifications with that tag (§10.1)."""
    st = _state(portal)
    if tag:
        st.items = [n for n in st.items if not (n["tag"] == tag and n["app"] == app)]
    note_id = st.next_id
    st.next_id += 1
    st.items.append(
        {
            "id": note_id,
            "user_id": user_id,
            "from_user_id": from_user,
            "kind": kind,
            "message": message,
            "message_out": message_out,
            "tag": tag,
            "sub_tag": sub_tag,
            "attach": attach,
            "app": app,
            "date": now(portal),
        }
    )
    return note_id


def notifications(portal: Any, user_id: int | None = None) -> list[dict[str, Any]]:
    """Sandbox-only: the notifications kept so far (for one user, or all)."""
    with lock(portal):
        return [dict(n) for n in _state(portal).items if user_id is None or n["user_id"] == user_id]


def _attach(value: Any) -> Any:
    """ATTACH: an object/array or a JSON string of one (im-notify-system-add.md)."""
    if value in (None, ""):
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > ATTACH_MAX:
        raise RestError("ATTACH_OVERSIZE", "You have exceeded the maximum allowable size of attach")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise RestError("ATTACH_ERROR", "Incorrect attach params") from exc
    if not isinstance(value, dict | list):
        raise RestError("ATTACH_ERROR", "Incorrect attach params")
    return value


def _add(ctx: CallContext, params: dict[str, Any], kind: str) -> int | bool:
    p = upper(params)
    user_id = as_int(p.get("USER_ID"), 0)
    if user_id <= 0:
        raise RestError("USER_ID_EMPTY", "User ID can't be empty")
    message = str(p.get("MESSAGE") or "").strip()  # §10.1: MESSAGE is trimmed.
    if not message:
        raise RestError("MESSAGE_EMPTY", "Message can't be empty")
    attach = _attach(p.get("ATTACH"))
    with lock(ctx.portal):
        if ctx.portal.user(user_id) is None:
            return False  # §10.1: result is the notification id or false.
        # §10.1: TAG is unique per app; a webhook names its "app" with CLIENT_ID.
        app = str(ctx.caller.client_id or p.get("CLIENT_ID") or "")
        return add_notification(
            ctx.portal,
            user_id,
            message,
            from_user=ctx.caller.user_id if kind == "personal" else 0,
            kind=kind,
            message_out=p.get("MESSAGE_OUT"),
            tag=p.get("TAG") or None,
            sub_tag=p.get("SUB_TAG") or None,
            attach=attach,
            app=app,
        )


@method("im.notify.system.add", scope="im")
def notify_system_add(ctx: CallContext, params: dict[str, Any]) -> int | bool:
    """im-notify-system-add.md: a system notification to USER_ID; result = its id."""
    return _add(ctx, params, "system")


@method("im.notify.personal.add", scope="im")
def notify_personal_add(ctx: CallContext, params: dict[str, Any]) -> int | bool:
    """im-notify-personal-add.md: a notification "from" the calling user."""
    return _add(ctx, params, "personal")
