"""The desired Bitrix24 state a mapping produces: plain frozen values, no I/O.

Group and user ``fields`` carry Bitrix24 field names (the mapping's vocabulary); sync/ passes them on
without looking inside, except for the documented keys it needs (``EMAIL``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

TGroupKind = Literal["organization", "department"]


def group_key(kind: TGroupKind, ref: str) -> str:
    """The stable name of a desired group: ``organization:<ref>`` or ``department:<ref>``."""
    return f"{kind}:{ref}"


@dataclass(frozen=True, slots=True)
class DesiredGroup:
    key: str
    kind: TGroupKind
    source_ref: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DesiredDepartment:
    """An intranet department mirrored for provider staff (``department.*``, bitrix24-rest.md §3)."""

    key: str
    source_ref: str
    name: str
    parent_key: str | None
    """The mirrored parent, or None for a root (it hangs under ``parent_id``)."""
    parent_id: int | None
    depth: int


def department_key(ref: str) -> str:
    return f"intranet:{ref}"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a record cannot be mirrored (becomes a quarantine row)."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class PersonView:
    """What the user mapping may read about a person at a given date."""

    person_ref: str
    first_name: str
    last_name: str
    middle_name: str | None
    birth_date: date | None
    gender: str | None
    emails: tuple[str, ...]
    phones: tuple[Any, ...]
    position_name: str | None
    org_name: str | None
    department_name: str | None
    personnel_no: str | None


@dataclass(frozen=True, slots=True)
class DesiredUser:
    person_ref: str
    fields: dict[str, Any]
    groups: frozenset[str]
    active: bool
    email: str | None = None
    problems: tuple[Problem, ...] = ()
    next_change_on: date | None = None
    """The next date on which this person's desired state changes by itself (a future-dated event)."""


@dataclass(frozen=True, slots=True)
class DesiredState:
    groups: dict[str, DesiredGroup] = field(default_factory=dict)
    users: dict[str, DesiredUser] = field(default_factory=dict)
    departments: dict[str, DesiredDepartment] = field(default_factory=dict)
    group_problems: dict[str, tuple[Problem, ...]] = field(default_factory=dict)
