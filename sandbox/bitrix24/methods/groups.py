"""``sonet_group.create/get/update/delete`` and ``sonet_group.setowner``: workgroups and projects.

Sources: bitrix24-rest.md §4.1–§4.4, §11.5, §11.7–§11.9. Errors come with an empty ``error`` string and the
text in ``error_description`` (§4.1, §11.8). There is no create-time extranet flag: a group becomes extranet
when an extranet user joins (§2.6, §11.5). ``INITIATE_PERMS``/``SPAM_PERMS`` are not returned (§4.2 [S]).
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.core import CallContext, Page, RestError, method
from sandbox.bitrix24.envelope import paged
from sandbox.bitrix24.eventbus import emit
from sandbox.bitrix24.params import upper_keys
from sandbox.bitrix24.presenters import matches, split_operator
from sandbox.bitrix24.state import Group, Portal

SCOPE = "sonet_group"
YN = ("Y", "N")
EDITABLE = (
    "NAME",
    "DESCRIPTION",
    "VISIBLE",
    "OPENED",
    "CLOSED",
    "KEYWORDS",
    "INITIATE_PERMS",
    "PROJECT",
    "PROJECT_DATE_START",
    "PROJECT_DATE_FINISH",
    "SUBJECT_ID",
    "SCRUM_MASTER_ID",
)
HIDDEN = ("INITIATE_PERMS", "SPAM_PERMS", "SCRUM_MASTER_ID")
ROW_KEYS = (
    "ID",
    "SITE_ID",
    "NAME",
    "DESCRIPTION",
    "DATE_CREATE",
    "DATE_UPDATE",
    "ACTIVE",
    "VISIBLE",
    "OPENED",
    "CLOSED",
    "SUBJECT_ID",
    "OWNER_ID",
    "KEYWORDS",
    "NUMBER_OF_MEMBERS",
    "DATE_ACTIVITY",
    "SUBJECT_NAME",
    "PROJECT",
    "IS_EXTRANET",
)


def sonet_error(text: str) -> RestError:
    """§4.1 / §11.8: sonet errors carry ``"error": ""`` and the message in ``error_description``."""
    return RestError("", text, 400)


def group_id_param(p: dict[str, Any], key: str = "GROUP_ID", wrong: str = "Wrong group ID") -> int:
    try:
        gid = int(p.get(key) or 0)
    except (TypeError, ValueError):
        gid = 0
    if gid <= 0:
        raise sonet_error(wrong)
    return gid


def find_group(portal: Portal, gid: int) -> Group:
    group = portal.groups.get(gid)
    if group is None:
        raise sonet_error("Socialnetwork group not found")
    return group


def group_row(group: Group) -> dict[str, Any]:
    """§4.2: every value a string or null; IS_EXTRANET Y/N; counts of active members."""
    f = group.fields
    row: dict[str, Any] = {key: f.get(key) for key in ROW_KEYS}
    row["ID"] = str(group.id)
    row["SITE_ID"] = "s1"
    row["OWNER_ID"] = str(f["OWNER_ID"])
    row["NUMBER_OF_MEMBERS"] = str(len(group.members))
    row["SUBJECT_NAME"] = "Workgroups"
    row["IS_EXTRANET"] = "Y" if group.extranet else "N"
    if f.get("IMAGE"):
        row["IMAGE"] = f["IMAGE"]
    return row


def _yn(value: Any, default: str) -> str:
    text = str(value).upper() if value not in (None, "") else default
    return text if text in YN else default


@method("sonet_group.create", scope=SCOPE)
def sonet_group_create(ctx: CallContext, params: dict[str, Any]) -> int:
    """§4.1: owner = caller unless an admin gives OWNER_ID; extranet callers: VISIBLE/OPENED N, perms E."""
    portal: Portal = ctx.portal
    p = upper_keys(params)
    name = str(p.get("NAME") or "").strip()
    if not name:
        raise sonet_error("Incorrect input data")
    caller = portal.user(ctx.caller.user_id)
    owner = ctx.caller.user_id
    if p.get("OWNER_ID") not in (None, "") and ctx.caller.is_admin:
        candidate = portal.user(p.get("OWNER_ID"))
        if candidate is None:
            raise sonet_error("Incorrect input data")
        owner = candidate.id
    extranet_caller = caller is not None and caller.extranet
    now = portal.clock.iso()
    fields: dict[str, Any] = {
        "NAME": name,
        "DESCRIPTION": p.get("DESCRIPTION") or None,
        "VISIBLE": "N" if extranet_caller else _yn(p.get("VISIBLE"), "Y"),
        "OPENED": "N" if extranet_caller else _yn(p.get("OPENED"), "N"),
        "CLOSED": _yn(p.get("CLOSED"), "N"),
        "KEYWORDS": p.get("KEYWORDS") or None,
        "INITIATE_PERMS": str(p.get("INITIATE_PERMS") or ("E" if extranet_caller else "K")).upper(),
        "PROJECT": _yn(p.get("PROJECT"), "N"),
        "PROJECT_DATE_START": p.get("PROJECT_DATE_START") or None,
        "PROJECT_DATE_FINISH": p.get("PROJECT_DATE_FINISH") or None,
        "SUBJECT_ID": str(p.get("SUBJECT_ID") or "1"),
        "OWNER_ID": owner,
        "ACTIVE": "Y",
        "DATE_CREATE": now,
        "DATE_UPDATE": now,
        "DATE_ACTIVITY": now,
    }
    if fields["INITIATE_PERMS"] not in ("A", "E", "K"):
        raise sonet_error("Incorrect input data")
    gid = portal.next_group_id
    portal.next_group_id += 1
    group = Group(gid, fields, {owner: "A"})
    portal.groups[gid] = group
    owner_user = portal.user(owner)
    if owner_user is not None and owner_user.extranet:
        group.extranet = True
    emit(portal, "ONSONETGROUPADD", {"FIELDS": {"ID": gid}}, acting_user=ctx.caller.user_id, object_id=gid)
    return gid


def _visible(ctx: CallContext, group: Group, skip_check: bool) -> bool:
    if skip_check:
        return True
    return group.fields.get("VISIBLE") == "Y" or ctx.caller.user_id in group.members


@method("sonet_group.get", scope=SCOPE, list_method=True)
def sonet_group_get(ctx: CallContext, params: dict[str, Any]) -> Page:
    """§4.2: ORDER (default ID DESC), FILTER with operators; IS_ADMIN=Y (admins) skips permission checks."""
    portal: Portal = ctx.portal
    p = upper_keys(params)
    skip = str(p.get("IS_ADMIN") or "").upper() == "Y" and ctx.caller.is_admin
    groups = [g for g in portal.groups.values() if _visible(ctx, g, skip)]
    raw_filter = p.get("FILTER")
    filt: dict[str, Any] = raw_filter if isinstance(raw_filter, dict) else {}
    if p.get("GROUP_ID") not in (None, ""):
        filt = {**filt, "ID": p["GROUP_ID"]}
    rows = [group_row(g) for g in groups]
    for raw_key, value in filt.items():
        op, field = split_operator(str(raw_key).upper())
        rows = [r for r in rows if matches(op, r.get(field), value)]
    raw_order = p.get("ORDER")
    order: dict[str, Any] = raw_order if isinstance(raw_order, dict) else {"ID": "DESC"}
    for field, direction in reversed(list(order.items())):
        key = str(field).upper()
        numeric = key in ("ID", "OWNER_ID", "NUMBER_OF_MEMBERS")
        rows.sort(
            key=lambda r, k=key, n=numeric: int(r.get(k) or 0) if n else str(r.get(k) or ""),  # type: ignore[misc]
            reverse=str(direction).upper() == "DESC",
        )
    return paged(rows, params.get("start"))


def _may_edit(ctx: CallContext, group: Group) -> bool:
    return ctx.caller.is_admin or int(group.fields["OWNER_ID"]) == ctx.caller.user_id


def set_owner(portal: Portal, group: Group, new_owner: int) -> None:
    """The old owner stays as a moderator; the new one becomes the owner (role A)."""
    old = int(group.fields["OWNER_ID"])
    if old != new_owner and old in group.members:
        group.members[old] = "E"
    group.members[new_owner] = "A"
    group.requests.pop(new_owner, None)
    group.fields["OWNER_ID"] = new_owner
    user = portal.user(new_owner)
    if user is not None and user.extranet:
        group.extranet = True


@method("sonet_group.update", scope=SCOPE)
def sonet_group_update(ctx: CallContext, params: dict[str, Any]) -> int:
    """§4.3 / §11.7: admin or owner; ``result`` is the group ID, not ``true``."""
    portal: Portal = ctx.portal
    p = upper_keys(params)
    group = find_group(portal, group_id_param(p))
    if not _may_edit(ctx, group):
        raise sonet_error("User has no permissions to update group")
    for key in EDITABLE:
        if key in p:
            value = p[key]
            if key in ("VISIBLE", "OPENED", "CLOSED", "PROJECT"):
                value = _yn(value, str(group.fields.get(key) or "N"))
            if key == "NAME" and not str(value or "").strip():
                raise sonet_error("Cannot update group")
            group.fields[key] = value
    if p.get("OWNER_ID") not in (None, ""):
        owner = portal.user(p["OWNER_ID"])
        if owner is None:
            raise sonet_error("Cannot update group")
        set_owner(portal, group, owner.id)
    group.fields["DATE_UPDATE"] = portal.clock.iso()
    emit(
        portal,
        "ONSONETGROUPUPDATE",
        {"FIELDS": {"ID": group.id}},
        acting_user=ctx.caller.user_id,
        object_id=group.id,
    )
    return group.id


@method("sonet_group.delete", scope=SCOPE)
def sonet_group_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§4.4: admin or owner; ``result`` true."""
    portal: Portal = ctx.portal
    p = upper_keys(params)
    group = find_group(portal, group_id_param(p))
    if not _may_edit(ctx, group):
        raise sonet_error("User has no permissions to delete group")
    del portal.groups[group.id]
    emit(
        portal,
        "ONSONETGROUPDELETE",
        {"FIELDS": {"ID": group.id}},
        acting_user=ctx.caller.user_id,
        object_id=group.id,
    )
    return True


@method("sonet_group.setowner", scope=SCOPE)
def sonet_group_setowner(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§4.5: the group owner (docs; [S] also a portal admin) hands the group to USER_ID."""
    portal: Portal = ctx.portal
    p = upper_keys(params)
    group = find_group(portal, group_id_param(p))
    if not _may_edit(ctx, group):
        raise sonet_error("User has no permissions to update group")
    user = portal.user(p.get("USER_ID"))
    if user is None:
        raise sonet_error("Wrong user IDs")
    set_owner(portal, group, user.id)
    return True
