"""The extranet directory in Bitrix24 terms: the REST calls that create, find and change groups, users
and memberships, and the parsing of their results. sync/ builds its operations from these, so Bitrix24
method and parameter names stay in this package.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.bitrix24.port import Bitrix24Port, Call

TGroupRole = Literal["E", "K"]
MODERATOR: TGroupRole = "E"
MEMBER: TGroupRole = "K"
"""Workgroup roles the bridge gives (bitrix24-rest.md §4.5): E moderator, K member."""

# User fields (user.add/user.update, bitrix24-rest.md §2.1) and the group/department NAME that sync sets,
# compares or reads back; the mapping produces the rest by name.
NAME = "NAME"
EMAIL = "EMAIL"
ACTIVE = "ACTIVE"
XML_ID = "XML_ID"
MOBILE = "PERSONAL_MOBILE"
DEPARTMENTS = "UF_DEPARTMENT"
"""An intranet employee's departments: a list of ids (sync keeps our keys here until apply)."""


def flag(value: bool) -> str:
    """Y/N flags such as ACTIVE are strings in user.update (§2.2); never send booleans."""
    return "Y" if value else "N"


USER_SELECT = [
    "ID",
    "XML_ID",
    "EMAIL",
    "ACTIVE",
    "NAME",
    "LAST_NAME",
    "SECOND_NAME",
    "PERSONAL_MOBILE",
    "PERSONAL_BIRTHDAY",
    "PERSONAL_GENDER",
    "WORK_POSITION",
    "WORK_COMPANY",
    "LAST_LOGIN",
    "USER_TYPE",
    "UF_DEPARTMENT",
]


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    id: int
    xml_id: str | None
    email: str | None
    active: bool
    last_login: str | None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DirectoryGroup:
    id: int
    name: str
    fields: dict[str, Any] = field(default_factory=dict)


def create_group(fields: dict[str, Any], label: str = "") -> Call:
    # bitrix24-rest.md §4.1: result = new group id.
    return Call("sonet_group.create", dict(fields), label)


def update_group(group_id: int, fields: dict[str, Any], label: str = "") -> Call:
    # §4.3: GROUP_ID + changed fields; result = the group id.
    return Call("sonet_group.update", {"GROUP_ID": group_id, **fields}, label)


def find_group_by_name(name: str, label: str = "") -> Call:
    # §4.2: FILTER by NAME; IS_ADMIN=Y skips the permission check for an admin caller.
    return Call("sonet_group.get", {"FILTER": {"NAME": name}, "IS_ADMIN": "Y"}, label)


def create_user(fields: dict[str, Any], group_ids: Sequence[int], label: str = "") -> Call:
    # §2.1/§2.6: an extranet user needs EXTRANET=Y and a non-empty SONET_GROUP_ID; EMAIL is required.
    params = {**_strings(fields), "EXTRANET": "Y", "SONET_GROUP_ID": [int(g) for g in group_ids]}
    return Call("user.add", params, label)


def create_employee(fields: dict[str, Any], department_ids: Sequence[int], label: str = "") -> Call:
    # §2.1: an intranet employee needs a non-empty UF_DEPARTMENT (and no EXTRANET flag).
    params = {**_strings({k: v for k, v in fields.items() if k != "UF_DEPARTMENT"})}
    params["UF_DEPARTMENT"] = [int(d) for d in department_ids]
    return Call("user.add", params, label)


def create_department(name: str, parent_id: int, label: str = "") -> Call:
    # §3: NAME and PARENT are required; result = the new id.
    return Call("department.add", {"NAME": name, "PARENT": int(parent_id)}, label)


def find_department_by_name(name: str, label: str = "") -> Call:
    # §3: department.get takes its filters as top-level keys; NAME is the exact full name.
    return Call("department.get", {"NAME": name}, label)


def update_department(department_id: int, name: str, parent_id: int, label: str = "") -> Call:
    # §3: result = true.
    return Call(
        "department.update", {"ID": int(department_id), "NAME": name, "PARENT": int(parent_id)}, label
    )


def update_user(user_id: int, fields: dict[str, Any], label: str = "") -> Call:
    # §2.2: ID + fields; ACTIVE "N" deactivates, "Y" reinstates (send the strings, never booleans).
    departments = fields.get("UF_DEPARTMENT")
    params = {"ID": int(user_id), **_strings({k: v for k, v in fields.items() if k != "UF_DEPARTMENT"})}
    if isinstance(departments, list):
        params["UF_DEPARTMENT"] = [int(d) for d in departments]
    return Call("user.update", params, label)


def find_users(*, xml_id: str | None = None, email: str | None = None, label: str = "") -> Call:
    # §2.3: XML_ID and EMAIL are filterable; ADMIN_MODE lets an admin see every extranet user.
    flt = {"XML_ID": xml_id} if xml_id else {"EMAIL": email}
    return Call("user.get", {"FILTER": flt, "ADMIN_MODE": True, "select": USER_SELECT}, label)


def users_by_ids(user_ids: Sequence[int], label: str = "") -> Call:
    # §2.3: FILTER {"@ID": [...]} selects these users; ADMIN_MODE shows extranet users to an admin.
    flt = {"@ID": [int(u) for u in user_ids]}
    return Call("user.get", {"FILTER": flt, "ADMIN_MODE": True, "select": USER_SELECT}, label)


def add_members(group_id: int, user_ids: Sequence[int], label: str = "") -> Call:
    # §4.5: admin only; adds immediately; already-members are skipped; result = added ids.
    return Call(
        "sonet_group.user.add", {"GROUP_ID": int(group_id), "USER_ID": [int(u) for u in user_ids]}, label
    )


def remove_members(group_id: int, user_ids: Sequence[int], label: str = "") -> Call:
    return Call(
        "sonet_group.user.delete", {"GROUP_ID": int(group_id), "USER_ID": [int(u) for u in user_ids]}, label
    )


def set_role(group_id: int, user_ids: Sequence[int], role: TGroupRole, label: str = "") -> Call:
    # §4.5: ROLE E (moderator) or K (member).
    params = {"GROUP_ID": int(group_id), "USER_ID": [int(u) for u in user_ids], "ROLE": role}
    return Call("sonet_group.user.update", params, label)


def group_members(group_id: int, label: str = "") -> Call:
    # §4.5: the parameter is ID (not GROUP_ID); result rows {USER_ID, ROLE}.
    return Call("sonet_group.user.get", {"ID": int(group_id)}, label)


def _strings(fields: dict[str, Any]) -> dict[str, Any]:
    """WORK_*/PERSONAL_* values must be strings (§2.1, invalid_type_field); None clears as ''."""
    return {k: ("" if v is None else v if isinstance(v, list) else str(v)) for k, v in fields.items()}


_REPEATING = frozenset(
    {
        "NAME",
        "LAST_NAME",
        "SECOND_NAME",
        "WORK_POSITION",
        "WORK_COMPANY",
        "PERSONAL_GENDER",
        "PERSONAL_BIRTHDAY",
    }
)


def _compact(key: str, value: Any) -> Any:
    """Names, positions and dates repeat across thousands of users: keep one string of each."""
    return sys.intern(value) if key in _REPEATING and isinstance(value, str) else value


def parse_user(row: dict[str, Any]) -> DirectoryUser:
    active = row.get("ACTIVE")
    return DirectoryUser(
        id=int(row["ID"]),
        xml_id=row.get("XML_ID") or None,
        email=(row.get("EMAIL") or "").lower() or None,
        active=active is True or active in ("Y", "true", "1", 1),
        last_login=row.get("LAST_LOGIN") or None,
        fields={
            sys.intern(k): _compact(k, v)
            for k, v in row.items()
            if k not in ("ID", "ACTIVE", "LAST_LOGIN", "USER_TYPE", "IS_ONLINE", "DATE_REGISTER")
        },
    )


def parse_group(row: dict[str, Any]) -> DirectoryGroup:
    return DirectoryGroup(int(row["ID"]), str(row.get("NAME") or ""), dict(row))


async def all_users(port: Bitrix24Port) -> AsyncIterator[list[DirectoryUser]]:
    """Every user the admin webhook sees, keyset-paged by ID (huge-data.md: >ID with start=-1)."""
    async for page in port.list_all("user.get", {"ADMIN_MODE": True, "select": USER_SELECT}):
        yield [parse_user(row) for row in page]


async def all_groups(port: Bitrix24Port) -> list[DirectoryGroup]:
    groups: list[DirectoryGroup] = []
    async for page in port.list_all("sonet_group.get", {"IS_ADMIN": "Y"}):
        groups.extend(parse_group(row) for row in page)
    return groups


async def send(port: Bitrix24Port, call: Call) -> Any:
    """Send one call outside a batch (the call's result, or the gateway's error)."""
    return await port.call(call.method, call.params)


async def find_user_by_email(port: Bitrix24Port, email: str) -> DirectoryUser | None:
    rows = await send(port, find_users(email=email))
    return parse_user(rows[0]) if rows else None


async def invite(port: Bitrix24Port, email: str, name: str, group_ids: Sequence[int]) -> int:
    """user.add of an extranet user (Bitrix24 e-mails the invitation itself, §2.1): the new user's id."""
    return int(await send(port, create_user({"EMAIL": email, "NAME": name}, group_ids)))


async def join_with_role(port: Bitrix24Port, group_id: int, user_id: int, role: TGroupRole) -> None:
    """Make the user a member of the group with ``role`` (adding skips members; the role moves, §4.5)."""
    await send(port, add_members(group_id, [user_id]))
    await send(port, set_role(group_id, [user_id], role))


async def leave(port: Bitrix24Port, group_id: int, user_id: int) -> None:
    await send(port, remove_members(group_id, [user_id]))


def found_id(result: Any) -> int | None:
    """The id of the first row a lookup (user.get, sonet_group.get, department.get) found, or None."""
    rows = result if isinstance(result, list) else []
    return int(rows[0]["ID"]) if rows else None


def member_ids(result: Any) -> set[int]:
    """The user ids of a sonet_group.user.get answer (rows ``{USER_ID, ROLE}``, §4.5)."""
    rows = result if isinstance(result, list) else []
    return {int(row["USER_ID"]) for row in rows}
