"""``sonet_group.user.add/get/delete/update/invite``: workgroup membership.

Sources: bitrix24-rest.md §4.5, §2.6, §11.6. ``user.add``/``user.delete``/``user.update`` are for admins;
``user.get`` takes ``ID`` (not ``GROUP_ID``) and lists active members only, without ``total``; results of
add/delete/update/invite are arrays of user IDs as strings; adding an extranet user turns the group extranet.
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.methods.groups import SCOPE, find_group, group_id_param, sonet_error
from sandbox.bitrix24.params import upper_keys
from sandbox.bitrix24.state import Group, Portal


def _user_ids(p: dict[str, Any]) -> list[int]:
    raw = p.get("USER_ID")
    items = raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, dict) else [raw]
    ids: list[int] = []
    for item in items:
        try:
            value = int(str(item))
        except (TypeError, ValueError):
            continue
        if value > 0 and value not in ids:
            ids.append(value)
    if not ids:
        raise sonet_error("Wrong user IDs")
    return ids


def _target(ctx: CallContext, p: dict[str, Any], denied: str) -> Group:
    group = find_group(ctx.portal, group_id_param(p))
    if not ctx.caller.is_admin:
        raise sonet_error(denied)
    return group


@method("sonet_group.user.add", scope=SCOPE)
def sonet_group_user_add(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """Adds at once, no approval; only employees and extranet users; members already in are skipped.

    [S] socialnetwork rest (CSocNetLogRestService::addGroupUsers): the user IDs are checked ("Wrong user
    IDs") before the group is looked up, and a dismissed (inactive) user is added like any other.
    """
    portal: Portal = ctx.portal
    p = upper_keys(params)
    user_ids = _user_ids(p)
    group = _target(ctx, p, "No permissions to add users")
    added: list[str] = []
    for uid in user_ids:
        user = portal.user(uid)
        if user is None or uid in group.members:
            continue
        group.members[uid] = "K"
        group.requests.pop(uid, None)
        if user.extranet:
            group.extranet = True  # §2.6: the group "automatically changes its type to external"
        added.append(str(uid))
    return added


@method("sonet_group.user.get", scope=SCOPE)
def sonet_group_user_get(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, str]]:
    """§4.5 / §11.6: takes ``ID``; ``[{"USER_ID": "1269", "ROLE": "A"}, …]``, active users, no ``total``."""
    portal: Portal = ctx.portal
    p = upper_keys(params)
    group = find_group(portal, group_id_param(p, "ID", "Wrong socialnetwork group ID"))
    rows = []
    for uid, role in group.members.items():
        user = portal.user(uid)
        if user is not None and user.active:
            rows.append({"USER_ID": str(uid), "ROLE": role})
    return rows


@method("sonet_group.user.delete", scope=SCOPE)
def sonet_group_user_delete(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """The owner (and scrum master) cannot be removed; they are left out of the answer."""
    p = upper_keys(params)
    group = _target(ctx, p, "No permissions to update users role")
    removed: list[str] = []
    scrum = str(group.fields.get("SCRUM_MASTER_ID") or "")
    for uid in _user_ids(p):
        if uid not in group.members or group.members[uid] == "A" or str(uid) == scrum:
            continue
        del group.members[uid]
        removed.append(str(uid))
    return removed


@method("sonet_group.user.update", scope=SCOPE)
def sonet_group_user_update(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """ROLE E (moderator) or K (member); the owner's role is not changed here.

    [S] socialnetwork rest (updateGroupUsers): ROLE is compared exactly ("e" is an incorrect role code),
    and members who already have the role are left out of the answer (nothing was updated for them).
    """
    p = upper_keys(params)
    group = _target(ctx, p, "No permissions to update users role")
    role = str(p.get("ROLE") or "")
    if role not in ("E", "K"):
        raise sonet_error("Incorrect role code")
    updated: list[str] = []
    for uid in _user_ids(p):
        if uid in group.members and group.members[uid] not in ("A", role):
            group.members[uid] = role
            updated.append(str(uid))
    return updated


def _may_invite(ctx: CallContext, group: Group) -> bool:
    """INITIATE_PERMS: A owner only, E owner + moderators, K every member (§4.1)."""
    if ctx.caller.is_admin:
        return True
    role = group.members.get(ctx.caller.user_id)
    perms = str(group.fields.get("INITIATE_PERMS") or "K")
    allowed = {"A": {"A"}, "E": {"A", "E"}, "K": {"A", "E", "K"}}.get(perms, {"A"})
    return role in allowed


@method("sonet_group.user.invite", scope=SCOPE)
def sonet_group_user_invite(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """Invites existing users (a pending request); empty when already a member or no right (§4.5, §2.7)."""
    portal: Portal = ctx.portal
    p = upper_keys(params)
    group = find_group(portal, group_id_param(p))
    if not _may_invite(ctx, group):
        return []
    invited: list[str] = []
    for uid in _user_ids(p):
        user = portal.user(uid)
        if user is None or not user.active or uid in group.members or uid in group.requests:
            continue
        group.requests[uid] = ctx.caller.user_id
        invited.append(str(uid))
    return invited


__all__ = ["RestError"]
