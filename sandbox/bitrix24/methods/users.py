"""``user.*``: invite (user.add), edit/dismiss/reinstate (user.update), list (user.get/user.search),
user.current and user.fields.

Sources: bitrix24-rest.md §2.1–§2.7, §11.1–§11.4, §11.19; api-reference/user/user-add.md (errors).
Keys are upper-cased first ([S] array_change_key_case, §1.4); paging reads the lowercase ``start`` (§1.3).
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.bitrix24.core import CallContext, Page, RestError, method
from sandbox.bitrix24.envelope import PAGE_SIZE, page_slice
from sandbox.bitrix24.params import upper_keys
from sandbox.bitrix24.presenters import filter_value, matches, split_operator, user_row
from sandbox.bitrix24.state import Invitation, Portal, User

READ_SCOPE = "user|user_basic|user_brief"  # §2.3: user.get works with any of the user scopes
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# §2.1 optional fields (doc table) + the [S]-accepted XML_ID / ACTIVE (§11.3); UF_* are accepted by prefix.
PLAIN_FIELDS = frozenset(
    [
        "NAME",
        "LAST_NAME",
        "SECOND_NAME",
        "EMAIL",
        "XML_ID",
        "ACTIVE",
        "PERSONAL_GENDER",
        "PERSONAL_PROFESSION",
        "PERSONAL_WWW",
        "PERSONAL_BIRTHDAY",
        "PERSONAL_ICQ",
        "PERSONAL_PHONE",
        "PERSONAL_FAX",
        "PERSONAL_MOBILE",
        "PERSONAL_PAGER",
        "PERSONAL_STREET",
        "PERSONAL_CITY",
        "PERSONAL_STATE",
        "PERSONAL_ZIP",
        "PERSONAL_COUNTRY",
        "PERSONAL_MAILBOX",
        "PERSONAL_NOTES",
        "WORK_PHONE",
        "WORK_COMPANY",
        "WORK_POSITION",
        "WORK_DEPARTMENT",
        "WORK_WWW",
        "WORK_FAX",
        "WORK_PAGER",
        "WORK_STREET",
        "WORK_MAILBOX",
        "WORK_CITY",
        "WORK_STATE",
        "WORK_ZIP",
        "WORK_COUNTRY",
        "WORK_PROFILE",
        "WORK_NOTES",
    ]
)
FILE_FIELDS = frozenset({"PERSONAL_PHOTO", "WORK_LOGO"})
# user.fields lists the 64 codes recorded from a cloud portal, in this order (fast-bitrix24
# tests/real_responses/user_fields.py; labels there are in the portal's language, here in English).
FIELD_LABELS = {
    "ID": "ID",
    "XML_ID": "External code",
    "ACTIVE": "Activity",
    "NAME": "First name",
    "LAST_NAME": "Last name",
    "SECOND_NAME": "Second name",
    "TITLE": "User list",
    "EMAIL": "E-mail",
    "LAST_LOGIN": "Last login",
    "DATE_REGISTER": "Registration date",
    "TIME_ZONE": "TIME_ZONE",
    "IS_ONLINE": "IS_ONLINE",
    "TIME_ZONE_OFFSET": "TIME_ZONE_OFFSET",
    "TIMESTAMP_X": "TIMESTAMP_X",
    "LAST_ACTIVITY_DATE": "LAST_ACTIVITY_DATE",
    "PERSONAL_GENDER": "Gender",
    "PERSONAL_PROFESSION": "Profession",
    "PERSONAL_WWW": "Home page",
    "PERSONAL_BIRTHDAY": "Date of birth",
    "PERSONAL_PHOTO": "Photo",
    "PERSONAL_ICQ": "ICQ",
    "PERSONAL_PHONE": "Phone",
    "PERSONAL_FAX": "Fax",
    "PERSONAL_MOBILE": "Mobile phone",
    "PERSONAL_PAGER": "Pager",
    "PERSONAL_STREET": "Street",
    "PERSONAL_CITY": "City",
    "PERSONAL_STATE": "Region",
    "PERSONAL_ZIP": "Zip code",
    "PERSONAL_COUNTRY": "Country",
    "PERSONAL_MAILBOX": "Mailbox",
    "PERSONAL_NOTES": "Notes",
    "WORK_PHONE": "Work phone",
    "WORK_COMPANY": "Company",
    "WORK_POSITION": "Position",
    "WORK_DEPARTMENT": "Department",
    "WORK_WWW": "Company website",
    "WORK_FAX": "WORK_FAX",
    "WORK_PAGER": "WORK_PAGER",
    "WORK_STREET": "WORK_STREET",
    "WORK_MAILBOX": "WORK_MAILBOX",
    "WORK_CITY": "Work city",
    "WORK_STATE": "WORK_STATE",
    "WORK_ZIP": "WORK_ZIP",
    "WORK_COUNTRY": "WORK_COUNTRY",
    "WORK_PROFILE": "WORK_PROFILE",
    "WORK_LOGO": "WORK_LOGO",
    "WORK_NOTES": "WORK_NOTES",
    "UF_SKYPE_LINK": "Skype chat link",
    "UF_ZOOM": "Zoom",
    "UF_EMPLOYMENT_DATE": "Employment date",
    "UF_TIMEMAN": "Time tracking",
    "UF_DEPARTMENT": "Units",
    "UF_INTERESTS": "Interests",
    "UF_SKILLS": "Skills",
    "UF_WEB_SITES": "Other websites",
    "UF_XING": "Xing",
    "UF_LINKEDIN": "LinkedIn",
    "UF_FACEBOOK": "Facebook",
    "UF_TWITTER": "Twitter",
    "UF_SKYPE": "Skype",
    "UF_DISTRICT": "District",
    "UF_PHONE_INNER": "Extension number",
    "USER_TYPE": "USER_TYPE",
}
CONTROL_KEYS = frozenset({"SORT", "ORDER", "FILTER", "ADMIN_MODE", "SELECT", "IMAGE_RESIZE", "START", "AUTH"})
FILTER_EXTRA = frozenset(
    {
        "ID",
        "USER_TYPE",
        "NAME_SEARCH",
        "IS_ONLINE",
        "LAST_LOGIN",
        "DATE_REGISTER",
        "FIND",
        "UF_DEPARTMENT_NAME",
    }
)
SEARCH_TEXT = frozenset({"NAME", "LAST_NAME", "SECOND_NAME", "WORK_POSITION"})


def _ints(value: Any) -> list[int]:
    if value in (None, "", False):
        return []
    items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
    out: list[int] = []
    for item in items:
        try:
            out.append(int(item))
        except (TypeError, ValueError):
            continue
    return [i for i in out if i > 0]


def active_flag(value: Any) -> str:
    """§2.2 [S]: ``(value && value != 'N') ? 'Y' : 'N'`` with PHP truthiness ("0", "", false, 0 are falsy)."""
    if value in (None, False, 0, "", "0", "N") or value == 0.0:
        return "N"
    return "Y"


def _collect_fields(p: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in p.items():
        if key in FILE_FIELDS:
            continue  # an image [name, base64]; not kept by the sandbox
        if key in PLAIN_FIELDS or key.startswith("UF_"):
            fields[key] = value
    return fields


def _check_types(fields: dict[str, Any]) -> None:
    # §2.1 [S]: WORK_*/PERSONAL_* values must be strings → ERROR_ARGUMENT invalid_type_field, argument=field.
    for key, value in fields.items():
        if key.startswith(("WORK_", "PERSONAL_")) and not isinstance(value, str):
            raise RestError("ERROR_ARGUMENT", "invalid_type_field", argument=key)


@method("user.add", scope="user")
def user_add(ctx: CallContext, params: dict[str, Any]) -> int:
    """§2.1: invite. EMAIL + (UF_DEPARTMENT | EXTRANET=Y + SONET_GROUP_ID); the invitation is recorded.

    The order of the checks is the rest module's (Bitrix\\Rest\\Api\\User::userAdd): rights, then a missing
    SONET_GROUP_ID of an extranet user (``no_sonet_group_for_extranet``, before the e-mail is looked at —
    the docs' table names it ERROR_GROUPID, §11.4), field types, the e-mail, the user count, a missing
    UF_DEPARTMENT, registration (duplicate e-mail), the invitation, and only then the join requests.
    """
    portal: Portal = ctx.portal
    p = upper_keys(params)
    if not ctx.caller.is_admin:
        raise RestError("ERROR_CORE", "access_denied")  # user-add.md: no permission to invite
    extranet = p.get("EXTRANET") == "Y"
    groups = _ints(p.get("SONET_GROUP_ID"))
    if extranet and not groups:
        # [S] ArgumentException('no_sonet_group_for_extranet') → ERROR_ARGUMENT
        # (RestException::initFromException)
        raise RestError("ERROR_ARGUMENT", "no_sonet_group_for_extranet", argument="")
    fields = _collect_fields(p)
    _check_types(fields)
    email = p.get("EMAIL")
    if not isinstance(email, str) or not EMAIL_RE.match(email.strip()):
        raise RestError("ERROR_ARGUMENT", "wrong_email", argument="")
    email = email.strip()
    if portal.max_users is not None and len(portal.users) >= portal.max_users:
        raise RestError("ERROR_ARGUMENT", "user_count_exceeded", argument="")
    departments = _ints(p.get("UF_DEPARTMENT"))
    if not extranet and not departments:
        raise RestError("ERROR_ARGUMENT", "no_extranet_field", argument="")  # user-add.md / §2.1 [S]
    if email.lower() in portal.by_email:
        raise RestError("ERROR_ARGUMENT", "User with this email already exists", argument="")  # user-add.md
    fields["EMAIL"] = email
    fields["ACTIVE"] = active_flag(p.get("ACTIVE", "Y"))
    # §2.1 [S]: with EXTRANET=Y any UF_DEPARTMENT is discarded.
    fields["UF_DEPARTMENT"] = [] if extranet else departments
    fields["USER_TYPE"] = "extranet" if extranet else "employee"
    user = portal.add_user(fields, registered=False)
    inviter = ctx.caller.user_id
    message = p.get("MESSAGE_TEXT")
    portal.invitations.append(
        Invitation(
            user.id, email, portal.clock.now(), inviter, str(message) if message else None, tuple(groups)
        )
    )
    for gid in groups if extranet else []:
        if gid not in portal.groups:
            # [S] userAdd: the user is registered and invited before SendRequestToJoinGroup runs; its
            # failure is thrown after that, so the user exists although the call failed (a retry gets
            # "already exists"). Code and text as documented in user-add.md.
            raise RestError("ERROR_NO_GROUP", "Group specified incorrectly")
        # §2.1 [S]: a join request initiated by the inviter; membership once the invitee accepts.
        portal.groups[gid].requests[user.id] = inviter
    return user.id


@method("user.update", scope="user")
def user_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    """§2.2: edit, dismiss (ACTIVE N) or reinstate (ACTIVE Y); result true."""
    portal: Portal = ctx.portal
    p = upper_keys(params)
    user = portal.user(p.get("ID"))
    caller = ctx.caller
    if user is None or (not caller.is_admin and user.id != caller.user_id):
        raise RestError("ERROR_CORE", "access_denied")  # §2.2: bad ID or no rights
    changes = _collect_fields(p)
    if "ACTIVE" in p:
        changes["ACTIVE"] = active_flag(p["ACTIVE"])
    if "UF_DEPARTMENT" in p:
        changes["UF_DEPARTMENT"] = _ints(p["UF_DEPARTMENT"])
    if not caller.is_admin:
        # §2.2 [S]: a non-admin's ACTIVE / UF_DEPARTMENT are silently dropped.
        changes.pop("ACTIVE", None)
        changes.pop("UF_DEPARTMENT", None)
    if "EMAIL" in changes:
        email = str(changes["EMAIL"] or "").strip()
        if not EMAIL_RE.match(email):
            raise RestError("ERROR_CORE", "Wrong e-mail.<br>")
        owner = portal.by_email.get(email.lower())
        if owner is not None and owner != user.id:
            raise RestError("ERROR_CORE", "User with this e-mail already exists.<br>")  # §2.2 core message
        changes["EMAIL"] = email
    if user.extranet:
        changes.pop("UF_DEPARTMENT", None)
    portal.update_user(user, changes)
    return True


def _visible(portal: Portal, caller_id: int, admin_mode: bool, admin_by_id: bool = False) -> Any:
    """§2.3 [S]: without admin mode a caller sees employees + extranet users of his own groups (and
    himself); ``ADMIN_MODE`` ("see users of any visibility") lifts that, for admins only.

    [S] userGet: an intranet caller who is a socialnetwork module admin and filters by ``ID`` skips the
    extranet restriction too, so an admin finds a pending extranet invitee by ID without ADMIN_MODE."""
    if admin_mode or admin_by_id:
        return None
    me = portal.user(caller_id)
    mine = portal.groups_of(caller_id)
    peers = {u for g in mine for u in portal.groups[g].members}

    def visible(user: User) -> bool:
        if user.id == caller_id or user.id in peers:
            return True
        return not user.extranet and not (me is not None and me.extranet)

    return visible


def _norm_filter_value(field: str, value: Any) -> Any:
    if field == "ACTIVE":
        # [S] prepareUserValue: ``($value && $value !== 'N') ? 'Y' : 'N'`` — PHP truthiness, and only an
        # upper-case "N" means inactive: "false", "n" and true all mean active; "", "0", false mean N.
        return active_flag(value)
    return value


def _conditions(filt: dict[str, Any]) -> list[tuple[str, str, Any]]:
    out = []
    for raw_key, value in filt.items():
        op, field = split_operator(str(raw_key).upper())
        if field in FIELD_LABELS or field in PLAIN_FIELDS or field in FILTER_EXTRA or field.startswith("UF_"):
            out.append((op, field, _norm_filter_value(field, value)))
    return out


def _candidates(portal: Portal, conds: list[tuple[str, str, Any]]) -> list[int]:
    """Narrow by the indexes (ID, EMAIL, XML_ID, ID ranges) before scanning."""
    low: int | None = None
    high: int | None = None
    for op, field, value in conds:
        if field == "ID" and op in ("", "=") and not isinstance(value, list):
            return [int(value)] if str(value).isdigit() and int(value) in portal.users else []
        if field == "EMAIL" and op in ("", "="):
            uid = portal.by_email.get(str(value).lower())
            return [uid] if uid else []
        if field == "XML_ID" and op in ("", "=") and not isinstance(value, list):
            return sorted(portal.by_xml_id.get(str(value), ()))
        if field == "ID" and _is_num(value):
            n = float(value)
            if op in (">", ">="):
                bound = int(n) + 1 if op == ">" or n != int(n) else int(n)
                low = bound if low is None else max(low, bound)
            elif op in ("<", "<="):
                bound = int(n) - 1 if op == "<" and n == int(n) else int(n)
                high = bound if high is None else min(high, bound)
    return portal.user_ids_from(low, high)


def _is_num(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _test(portal: Portal, user: User, conds: list[tuple[str, str, Any]]) -> bool:
    for op, field, value in conds:
        if field == "UF_DEPARTMENT_NAME":
            names = [
                str(portal.departments.get(d, {}).get("NAME", ""))
                for d in user.fields.get("UF_DEPARTMENT") or []
            ]
            if not any(str(value).lower() in n.lower() for n in names):
                return False
        elif field == "NAME_SEARCH":
            hay = " ".join(
                str(user.fields.get(k) or "") for k in ("NAME", "LAST_NAME", "SECOND_NAME", "EMAIL")
            )
            if str(value).lower() not in hay.lower():
                return False
        elif field == "FIND":
            hay = " ".join(str(user.fields.get(k) or "") for k in ("NAME", "LAST_NAME", "WORK_POSITION"))
            if str(value).lower() not in hay.lower():
                return False
        elif not matches(op, filter_value(user, field), value):
            return False
    return True


def _listing(ctx: CallContext, params: dict[str, Any], filt: dict[str, Any]) -> Page:
    portal: Portal = ctx.portal
    p = upper_keys(params)
    conds = _conditions(filt)
    admin_mode = ctx.caller.is_admin and p.get("ADMIN_MODE") not in (None, False, 0, "", "0", "N", "false")
    me = portal.user(ctx.caller.user_id)
    by_id_filter = any(field == "ID" and op == "" for op, field, _ in conds)
    admin_by_id = ctx.caller.is_admin and by_id_filter and not (me is not None and me.extranet)
    visible = _visible(portal, ctx.caller.user_id, admin_mode, admin_by_id)
    # [S] prepareUserGetOrder: [sort => order] only when both are given, else ID ASC.
    sort_given, order_given = p.get("SORT"), p.get("ORDER")
    sort = str(sort_given).upper() if sort_given and order_given else "ID"
    desc = bool(sort_given and order_given) and str(order_given).upper() == "DESC"
    offset, counting = page_slice(params.get("start"))
    ids = _candidates(portal, conds)
    by_id = sort == "ID"
    if by_id and desc:
        ids = list(reversed(ids))
    hits: list[User] = []
    need = offset + PAGE_SIZE
    for uid in ids:
        user = portal.users[uid]
        if visible is not None and not visible(user):
            continue
        if _test(portal, user, conds):
            hits.append(user)
            if by_id and not counting and len(hits) >= need:
                break  # §1.3: start=-1 needs no COUNT, so stop at a page
    if not by_id:
        hits.sort(key=lambda u: (str(filter_value(u, sort) or ""), u.id), reverse=desc)
    select = p.get("SELECT")
    rows = [user_row(portal, u, select) for u in hits[offset : offset + PAGE_SIZE]]
    if not counting:
        return Page(rows, 0, zero_total_in_batch=False)
    nxt = offset + PAGE_SIZE if offset + PAGE_SIZE < len(hits) else None
    # batch.md's example (bitrix24-rest.md §7): an empty user.get inside a batch has no result_total.
    return Page(rows, len(hits), nxt, zero_total_in_batch=False)


@method("user.get", scope=READ_SCOPE, list_method=True)
def user_get(ctx: CallContext, params: dict[str, Any]) -> Page:
    """§2.3 / §11.1: FILTER object replaces top-level keys as the filter; sort/order; start; select."""
    p = upper_keys(params)
    filt = (
        p["FILTER"]
        if isinstance(p.get("FILTER"), dict)
        else {k: v for k, v in p.items() if k not in CONTROL_KEYS}
    )
    return _listing(ctx, params, filt)


@method("user.search", scope=READ_SCOPE, list_method=True)
def user_search(ctx: CallContext, params: dict[str, Any]) -> Page:
    """§2.4: like user.get; FILTER.FIND searches name/last name/position and cannot be combined."""
    p = upper_keys(params)
    filt = (
        p["FILTER"]
        if isinstance(p.get("FILTER"), dict)
        else {k: v for k, v in p.items() if k not in CONTROL_KEYS}
    )
    filt = upper_keys(filt)
    if "FIND" in filt and len(filt) > 1:
        filt = {"FIND": filt["FIND"]}
    # §2.4: a search, so the name fields match by substring rather than equality.
    filt = {(f"%{k}" if k in SEARCH_TEXT else k): v for k, v in filt.items()}
    return _listing(ctx, params, filt)


@method("user.current", scope=READ_SCOPE)
def user_current(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """§2.5: the token/webhook owner as a user.get row."""
    user = ctx.portal.user(ctx.caller.user_id)
    if user is None:
        raise RestError("ERROR_CORE", "access_denied")
    return user_row(ctx.portal, user, None)


@method("user.fields", scope=READ_SCOPE)
def user_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, str]:
    """§2.5: field code → label."""
    return dict(FIELD_LABELS)
