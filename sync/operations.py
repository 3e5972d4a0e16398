"""The plan's operations: frozen, typed values, one class per kind of change. Pure.

The planner builds them, the ledger stores each as ``op`` + ``payload`` (a JSON object whose keys are the
class's fields) and reads it back with ``decode``, and apply dispatches on the class through one handler
table (sync/apply.py). An operation names Bitrix24 objects by our keys and typed ids, never by method
names: the REST calls are built in connectors/bitrix24/directory.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from core.ids import B24DepartmentId, B24GroupId, B24UserId, PersonRef

TOp = Literal[
    "create_department",
    "update_department",
    "create_group",
    "update_group",
    "create_user",
    "adopt_user",
    "update_user",
    "add_members",
    "remove_members",
]
Fields = dict[str, Any]
"""Bitrix24 field values as the mapping produced them."""
State = dict[str, Any]
"""The confirmed state an operation leaves behind (what the identity map records once it is done)."""


class _Stored:
    """Every operation: ``op``, ``kind``, ``ref`` and the stored ``payload``."""

    __slots__ = ()
    op: ClassVar[TOp]
    ref: str

    @property
    def payload(self) -> dict[str, Any]:
        """The ledger's JSON form: every field but ``ref`` and ``kind`` (a missing digest is left out)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        values.pop("ref")
        values.pop("kind", None)
        if values.get("digest", "") is None:
            values.pop("digest")
        return values


@dataclass(frozen=True, slots=True)
class CreateDepartment(_Stored):
    """department.add under the parent (created earlier in the run when ``PARENT_KEY`` is set)."""

    op: ClassVar[TOp] = "create_department"
    kind: ClassVar[str] = "intranet"
    ref: str
    key: str
    fields: Fields
    depth: int


@dataclass(frozen=True, slots=True)
class UpdateDepartment(_Stored):
    op: ClassVar[TOp] = "update_department"
    kind: ClassVar[str] = "intranet"
    ref: str
    key: str
    fields: Fields
    depth: int
    department_id: B24DepartmentId


@dataclass(frozen=True, slots=True)
class CreateGroup(_Stored):
    op: ClassVar[TOp] = "create_group"
    kind: str
    ref: str
    key: str
    fields: Fields


@dataclass(frozen=True, slots=True)
class UpdateGroup(_Stored):
    """Changed fields of a linked group, or the adoption of an unlinked group of the same name."""

    op: ClassVar[TOp] = "update_group"
    kind: str
    ref: str
    key: str
    group_id: B24GroupId
    fields: Fields
    state: State


@dataclass(frozen=True, slots=True)
class CreateUser(_Stored):
    """user.add, joining the first groups (or departments) at once; Bitrix24 sends the invitation."""

    op: ClassVar[TOp] = "create_user"
    kind: ClassVar[str] = "person"
    ref: PersonRef
    fields: Fields
    groups: list[str]
    digest: str


@dataclass(frozen=True, slots=True)
class AdoptUser(_Stored):
    """Link an existing Bitrix24 user (found by XML_ID or e-mail) and bring its fields up to date."""

    op: ClassVar[TOp] = "adopt_user"
    kind: ClassVar[str] = "person"
    ref: PersonRef
    user_id: B24UserId
    fields: Fields
    state: State
    digest: str


@dataclass(frozen=True, slots=True)
class UpdateUser(_Stored):
    """Changed fields, activation or deactivation (``ACTIVE``) of a linked user."""

    op: ClassVar[TOp] = "update_user"
    kind: ClassVar[str] = "person"
    ref: PersonRef
    user_id: B24UserId
    fields: Fields
    state: State
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class AddMembers(_Stored):
    op: ClassVar[TOp] = "add_members"
    kind: ClassVar[str] = "group"
    ref: str
    group_key: str
    person_refs: list[PersonRef]


@dataclass(frozen=True, slots=True)
class RemoveMembers(_Stored):
    op: ClassVar[TOp] = "remove_members"
    kind: ClassVar[str] = "group"
    ref: str
    group_key: str
    person_refs: list[PersonRef]
    user_ids: list[B24UserId]


Operation = (
    CreateDepartment
    | UpdateDepartment
    | CreateGroup
    | UpdateGroup
    | CreateUser
    | AdoptUser
    | UpdateUser
    | AddMembers
    | RemoveMembers
)
KINDS: dict[str, type[Operation]] = {
    cls.op: cls
    for cls in (
        CreateDepartment,
        UpdateDepartment,
        CreateGroup,
        UpdateGroup,
        CreateUser,
        AdoptUser,
        UpdateUser,
        AddMembers,
        RemoveMembers,
    )
}


class UnknownOperation(ValueError):
    """A stored plan item whose ``op`` this version does not know (never applied by guesswork)."""


def decode(op: str, kind: str, ref: str, payload: dict[str, Any]) -> Operation:
    """The typed operation of a stored plan item."""
    cls = KINDS.get(op)
    if cls is None:
        raise UnknownOperation(f"unknown plan operation {op!r}")
    values: dict[str, Any] = {"ref": ref, **payload}
    if cls in (CreateGroup, UpdateGroup):
        values["kind"] = kind
    return cls(**values)
